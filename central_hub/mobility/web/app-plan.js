// Planning a journey: the form (stops searched in the browser, or the device's position;
// date and time, departure or arrival, step-free, shared bikes) and the options it finds,
// each with its legs, real-time delays, how full the vehicles are, and the crowded badge
// beside the calmer alternative.

import { Problem, appConfig, journeys, keepOptions, lastOptions, loadNetwork, locate } from "./app-api.js";
import { placeOf, stopField } from "./app-combobox.js";
import { announce, clearProblems, el, field, hidden, problemBox, reportProblems, show } from "./app-dom.js";
import { clock, delayText, money, moment, t } from "./app-i18n.js";

// "2026-03-01T08:15" in the browser's zone (Kassel's, for a passenger in Kassel)
function localInput(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// the search a route's query names (the options' hash: bookmarkable, never sent to the hub)
export function searchOf(params) {
  return {
    from: params.get("von") || "", fromName: params.get("vonName") || "",
    to: params.get("nach") || "", toName: params.get("nachName") || "",
    time: Number(params.get("zeit")) || Date.now(), arriveBy: params.get("ankunft") === "1",
    wheelchair: params.get("rollstuhl") === "1", bike: params.get("rad") === "1",
  };
}

function queryOf(search) {
  const q = new URLSearchParams({ von: search.from, vonName: search.fromName, nach: search.to,
    nachName: search.toName, zeit: String(search.time) });
  if (search.arriveBy) q.set("ankunft", "1");
  if (search.wheelchair) q.set("rollstuhl", "1");
  if (search.bike) q.set("rad", "1");
  return q.toString();
}

// the options of the hour after the time asked (before it, arriving): the passenger sees the
// later (earlier) connections too, not only the first
const WINDOW_S = 3600;

function apiParams(search) {
  const params = { from: search.from, to: search.to, time: String(search.time),
    modes: search.bike ? "transit,walk,bike_sharing" : "transit,walk", window: String(WINDOW_S) };
  if (search.arriveBy) params.arrive_by = "true";
  if (search.wheelchair) params.wheelchair = "true";
  return params;
}

// the field a refusal of the planner is about (its reason names "from", "to", the day or a mode)
function problemsOf(error) {
  const d = error.detail || "";
  if (error.status === 503) return [{ text: t("errNoTimetable") }];
  if (/^from\b/.test(d)) return [{ field: "von", text: /outside/.test(d) ? t("errOutside") : t("errStopUnknown") }];
  if (/^to\b/.test(d)) return [{ field: "nach", text: /outside/.test(d) ? t("errOutside") : t("errStopUnknown") }];
  if (/validity/.test(d)) return [{ field: "zeit", text: t("errValidity") }];
  if (/sharing/.test(d)) return [{ field: "rad", text: t("errSharing") }];
  if (/unknown stop/.test(d)) return [{ field: "von", text: t("errStopUnknown") }];
  return [{ text: error.status ? t("errRejected", d || error.message) : error.message }];
}

export async function planView(params) {
  const [net, config] = await Promise.all([loadNetwork(), appConfig()]);
  const earlier = params.has("von") ? searchOf(params) : lastOptions()?.search || null;
  const from = stopField("von", t("from"), net.stops, earlier?.from ? { place: earlier.from, name: earlier.fromName } : null,
    el("button", { type: "button", class: "leise", text: t("useMyPosition"),
      onclick: async () => {
        const input = document.getElementById("von");
        try {
          const p = await locate();
          input.value = t("myPosition");
          Object.assign(input.dataset, { place: `${p.lat.toFixed(5)},${p.lon.toFixed(5)}`, name: t("myPosition") });
          announce(t("myPosition"));
        } catch (error) {
          reportProblems(form, [{ field: "von", text: error.message }]);
        }
      } }));
  const to = stopField("nach", t("to"), net.stops, earlier?.to ? { place: earlier.to, name: earlier.toName } : null);
  const time = el("input", { id: "zeit", name: "zeit", type: "datetime-local", required: true,
    value: localInput(earlier && earlier.time > Date.now() ? earlier.time : Date.now()) });
  const radio = (value, text, checked) => el("div", { class: "wahl" },
    el("input", { type: "radio", id: `wann-${value}`, name: "wann", value, checked }),
    el("label", { for: `wann-${value}`, text }));
  const check = (id, text, checked) => el("div", { class: "wahl feld", id: `${id}-feld` },
    el("input", { type: "checkbox", id, name: id, checked }), el("label", { for: id, text }));
  const form = el("form", { class: "planen", novalidate: true },
    from, to, field("zeit", t("when"), time),
    el("fieldset", { class: "feld" }, el("legend", { text: t("timeMeans") }),
      radio("ab", t("depart"), !earlier?.arriveBy), radio("an", t("arrive"), !!earlier?.arriveBy)),
    el("fieldset", { class: "feld" }, el("legend", { text: t("options") }),
      check("rollstuhl", t("wheelchair"), !!earlier?.wheelchair),
      config.bike_sharing ? check("rad", t("bikeSharing"), !!earlier?.bike) : null),
    el("button", { type: "submit", class: "haupt", text: t("search") }));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const problems = [];
    const start = placeOf(document.getElementById("von"), net.stops);
    const end = placeOf(document.getElementById("nach"), net.stops);
    const fromText = document.getElementById("von").value.trim();
    const toText = document.getElementById("nach").value.trim();
    if (!start) problems.push({ field: "von", text: fromText ? t("errStopUnknown") : t("errFromMissing") });
    if (!end) problems.push({ field: "nach", text: toText ? t("errStopUnknown") : t("errToMissing") });
    if (start && end && start.place === end.place) problems.push({ field: "nach", text: t("errSame") });
    const when = time.value ? new Date(time.value).getTime() : NaN;
    if (Number.isNaN(when)) problems.push({ field: "zeit", text: t("errTime") });
    if (problems.length) { reportProblems(form, problems); return; }
    clearProblems(form);
    const search = { from: start.place, fromName: start.name, to: end.place, toName: end.name, time: when,
      arriveBy: form.elements.wann.value === "an", wheelchair: form.elements.rollstuhl.checked,
      bike: !!form.elements.rad?.checked };
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const found = await journeys(apiParams(search));
      keepOptions(search, found.itineraries);
      location.hash = `#/optionen?${queryOf(search)}`;
    } catch (error) {
      reportProblems(form, problemsOf(error));
    } finally {
      button.disabled = false;
    }
  });
  show(t("planTitle"), [form]);
}

// -- the options ------------------------------------------------------------------------------

const transit = (leg) => Boolean(leg.trip_id);
const sharing = (leg) => leg.mode === "BIKE_SHARING" || leg.mode === "CAR_SHARING";

export function lineName(leg) {
  return `${t("mode")[leg.mode] || leg.mode} ${leg.route_name || leg.route_id || ""}`.trim();
}

// a rental link: the operator's app on a phone that has one, else its web page
function rentalLink(leg) {
  const r = leg.rental || {};
  const ua = navigator.userAgent;
  const href = (/Android/.test(ua) && r.android) || (/iPhone|iPad/.test(ua) && r.ios) || r.web || r.android || r.ios;
  if (!href) return null;
  return el("a", { class: "knopf", href, rel: "noopener", "aria-label": t("rentAt", leg.operator || ""), text: t("rent") });
}

export function legItem(leg) {
  const minutes = Math.max(1, Math.round((leg.to.time - leg.from.time) / 60000));
  if (leg.mode === "WALK") {
    return el("li", { class: "abschnitt fuss" }, el("p", { text: t("walk", t("minutes", minutes), leg.to.name) }));
  }
  if (sharing(leg)) {
    return el("li", { class: "abschnitt rad" },
      el("p", {}, el("strong", { text: `${t("mode")[leg.mode]}${leg.operator ? ` (${leg.operator})` : ""}` }),
        ` · ${t("minutes", minutes)}`),
      el("p", { text: t("dep", clock(leg.from.time), leg.from.name) }),
      el("p", { text: t("arr", clock(leg.to.time), leg.to.name) }),
      leg.price ? el("p", { text: `${t("price")}: ${money(leg.price.amount, leg.price.currency)}` }) : null,
      el("p", { class: "meta", text: t("handOver") }), rentalLink(leg));
  }
  const occupancy = leg.occupancy_status && t("occ")[leg.occupancy_status];
  return el("li", { class: "abschnitt fahrt" },
    el("p", {}, el("strong", { class: "linie", text: lineName(leg) }), leg.headsign ? ` ${t("towards", leg.headsign)}` : ""),
    el("p", {}, t("dep", clock(leg.from.time), leg.from.name), " · ",
      el("span", { class: leg.delay_s >= 120 ? "spaet" : "", text: delayText(leg.delay_s, leg.realtime) })),
    el("p", { text: t("arr", clock(leg.to.time), leg.to.name) }),
    occupancy ? el("p", { class: `auslastung ${leg.occupancy_status.toLowerCase()}`, text: `${t("occupancy")}: ${occupancy}` }) : null);
}

export function summary(it) {
  return el("p", { class: "eckdaten" }, `${t("duration")}: ${t("minutes", Math.round(it.duration_s / 60))} · ${t("transfers", it.transfers)}`);
}

function optionItem(it, n, anyCrowded, config) {
  const heading = `${clock(it.departure)} – ${clock(it.arrival)}`;
  const buyable = config.tickets && it.legs.some(transit) && it.departure > Date.now();
  return el("li", { class: `option${it.crowded ? " voll" : ""}` },
    el("h2", {}, hidden(`${t("option", n + 1)}: `), heading),
    summary(it),
    it.crowded ? el("p", { class: "marke voll", text: t("crowded") })
      : anyCrowded ? el("p", { class: "marke ruhig", text: t("calmer") }) : null,
    el("ol", { class: "abschnitte" }, ...it.legs.map(legItem)),
    el("p", { class: "aktionen" },
      it.legs.some(transit) ? el("a", { class: "knopf", href: `#/fahrt/${n}`, text: t("follow") }) : null,
      buyable ? el("a", { class: "knopf leise", href: `#/buchen/${n}`, text: t("buy") }) : null));
}

export async function optionsView(params) {
  const search = searchOf(params);
  const config = await appConfig();
  let kept = lastOptions();
  const same = kept && kept.search.from === search.from && kept.search.to === search.to &&
    kept.search.time === search.time && kept.search.arriveBy === search.arriveBy &&
    kept.search.wheelchair === search.wheelchair && kept.search.bike === search.bike;
  const title = t("resultsTitle", search.fromName || search.from, search.toName || search.to);
  const change = el("p", {}, el("a", { href: `#/?${new URLSearchParams(params)}`, text: t("changeSearch") }));
  if (!same) {
    try {
      const found = await journeys(apiParams(search));
      kept = { search, itineraries: found.itineraries };
      keepOptions(search, found.itineraries);
    } catch (error) {
      if (!(error instanceof Problem)) throw error;
      show(title, [problemBox(problemsOf(error)[0].text), change]);
      return;
    }
  }
  const options = kept.itineraries;
  const crowded = options.filter((it) => it.crowded).length;
  const calm = options.some((it) => !it.crowded);
  show(title, [
    el("p", { class: "meta", text: `${search.arriveBy ? t("arrive") : t("depart")}: ${moment(search.time)}` }),
    el("p", { role: "status", class: "gefunden" }, t("found", options.length),
      crowded && calm ? ` ${t("foundCrowded", crowded)}` : ""),
    el("ol", { class: "optionen" }, ...options.map((it, n) => optionItem(it, n, crowded > 0, config))),
    change]);
}
