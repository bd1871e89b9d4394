// Departures nearby: the stops nearest the device's position (found in the browser: the hub
// never learns it) and each one's next departures with real time and how full the vehicle
// is; or any stop picked by name.

import { departures, loadNetwork, locate, nearestStops } from "./app-api.js";
import { label, placeOf, stopField } from "./app-combobox.js";
import { announce, el, reportProblems, show } from "./app-dom.js";
import { clock, delayText, t } from "./app-i18n.js";

async function board(net, stop, heading, distance = null) {
  const id = `tafel-${stop.id.replace(/[^A-Za-z0-9_-]/g, "_")}`;
  const section = el("section", { class: "tafel", "aria-labelledby": id },
    el(heading, { id, text: label(stop) }), distance === null ? null : el("p", { class: "meta", text: t("distance", distance) }));
  try {
    const rows = await departures(stop.id);
    if (!rows.length) {
      section.append(el("p", { text: t("noDepartures") }));
      return section;
    }
    section.append(el("div", { class: "breit", tabindex: "0", role: "region", "aria-label": t("boardCaption", stop.name) },
      el("table", {}, el("caption", { class: "versteckt", text: t("boardCaption", stop.name) }),
        el("thead", {}, el("tr", {}, ...[t("line"), t("destination"), t("departure"), t("realtime"), t("occupancy")]
          .map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, ...rows.map((d) => el("tr", {},
          el("th", { scope: "row", text: net.routes.get(d.route_id) || d.route_id }),
          el("td", { text: d.headsign || "" }),
          el("td", { text: clock(d.expected) }),
          el("td", { class: d.delay_s >= 120 ? "spaet" : "", text: delayText(d.delay_s, d.realtime) }),
          el("td", { text: (d.occupancy_status && t("occ")[d.occupancy_status]) || "–" })))))));
  } catch (error) {
    section.append(el("p", { text: error.message }));
  }
  return section;
}

export async function nearbyView() {
  const net = await loadNetwork();
  const results = el("div", { class: "tafeln" });
  const locateButton = el("button", { type: "button", class: "haupt", text: t("nearbyLocate") });
  const form = el("form", { class: "planen", novalidate: true },
    stopField("haltestelle", t("stop"), net.stops),
    el("button", { type: "submit", text: t("showBoard") }));
  locateButton.addEventListener("click", async () => {
    results.replaceChildren(el("p", { role: "status", text: t("locating") }));
    try {
      const here = await locate();
      const near = nearestStops(net, here);
      const boards = await Promise.all(near.map((n) => board(net, n.stop, "h2", n.distance)));
      results.replaceChildren(...boards);
      announce(near.map((n) => n.stop.name).join(", "));
    } catch (error) {
      results.replaceChildren(el("p", { role: "alert", text: error.message }));
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = placeOf(document.getElementById("haltestelle"), net.stops);
    if (!chosen) {
      reportProblems(form, [{ field: "haltestelle", text: t("errStopUnknown") }]);
      return;
    }
    location.hash = `#/abfahrten/${encodeURIComponent(chosen.place.slice(5))}`;
  });
  show(t("nearbyTitle"), [el("p", {}, locateButton), results,
    el("h2", { text: t("nearbyOr") }), form]);
}

export async function stopBoardView(stopId) {
  const net = await loadNetwork();
  const stop = net.byId.get(stopId);
  if (!stop) {
    show(t("nearbyTitle"), [el("p", { text: t("errStopUnknown") })]);
    return;
  }
  const section = await board(net, stop, "h2");
  show(label(stop), [section, el("p", {}, el("a", { href: "#/abfahrten", text: t("nearbyTitle") }))]);
}
