// Signal states: ETSI MovementPhaseState (as in SPaT) -> the lamp a traffic engineer names,
// and honest countdowns (a predicted end that has passed is "due", never a frozen 0).
export const LAMP = {
  "stop-And-Remain": "red", "stop-Then-Proceed": "red", "pre-Movement": "redamber",
  "permissive-Movement-Allowed": "green", "protected-Movement-Allowed": "green",
  "permissive-clearance": "amber", "protected-clearance": "amber",
  "caution-Conflicting-Traffic": "flash", "dark": "dark", "unavailable": "unavail",
};
export const LAMP_NAME = { red: "red", redamber: "red-amber", green: "green", amber: "amber",
  flash: "flashing amber", dark: "dark", unavail: "unavailable" };
export const COLOUR = { red: "#e53935", redamber: "#ff8f00", green: "#43a047", amber: "#fdd835",
  flash: "#ffb300", dark: "#37474f", unavail: "#9e9e9e" };
export const DEGRADED = new Set(["flashing", "fault", "dark"]);

export function lampOf(state) { return LAMP[state] || "unavail"; }

/** Text for the time left of a group at hub time `now` (ms). */
export function countdown(g, now) {
  if (g.likely_end == null) return { text: "–", title: "no prediction", due: false };
  const left = (g.likely_end - now) / 1000;
  const range = g.min_end != null && g.max_end != null
    ? ` (${Math.max(0, Math.round((g.min_end - now) / 1000))}–${Math.max(0, Math.round((g.max_end - now) / 1000))} s)` : "";
  if (left > 0.5) return { text: `${Math.round(left)} s${range}`, title: "to the likely end", due: false };
  if (g.max_end != null && g.max_end > now) {
    return { text: `due (≤ ${Math.ceil((g.max_end - now) / 1000)} s)`, title: "likely end passed; the latest end is still ahead", due: true };
  }
  return { text: `due, ${Math.round(-left)} s over`, title: "the predicted end has passed", due: true };
}
