// Following a journey live: the map (Leaflet, the hub's own copy) draws the network the hub
// serves (tiles only when the city configured a tile server), the journey's path, and every
// vehicle of it where the hub last saw it (GTFS-Realtime vehicle positions, every 5 s, only
// this journey's trips); the same facts are written below the map for those who do not see
// it. On a shared-bike leg a region waits for the next traffic light's advice.

import { appConfig, getJson, lastOptions, loadNetwork, metres, tripUpdates, vehiclePositions } from "./app-api.js";
import { el, show } from "./app-dom.js";
import { clock, delayText, t } from "./app-i18n.js";
import { legItem, lineName, summary } from "./app-plan.js";

const POLL_MS = 5000;
const LEAFLET = "/static/vendor/leaflet/dist/";

let leaflet = null;
// Leaflet's script and styles, the first time a map is drawn (the other views need neither)
function loadLeaflet() {
  leaflet ??= new Promise((resolve, reject) => {
    document.head.append(el("link", { rel: "stylesheet", href: `${LEAFLET}leaflet.css` }));
    const script = el("script", { src: `${LEAFLET}leaflet.js` });
    script.addEventListener("load", () => resolve(window.L));
    script.addEventListener("error", () => { leaflet = null; reject(new Error("Leaflet")); });
    document.head.append(script);
  });
  return leaflet;
}

// the part of the line's shape a ride covers: from the vertex nearest its boarding stop to the
// one nearest where it is left (a straight line when no shape fits)
function ridePath(net, leg) {
  const from = { lat: leg.from.lat, lon: leg.from.lon }, to = { lat: leg.to.lat, lon: leg.to.lon };
  let best = null;
  for (const line of net.lines) {
    if (line.properties.route_id !== leg.route_id) continue;
    const points = line.geometry.coordinates.map(([lon, lat]) => ({ lat, lon }));
    const nearest = (p) => points.reduce((b, q, i) => { const d = metres(p, q); return d < b.d ? { i, d } : b; }, { i: -1, d: Infinity });
    const a = nearest(from), b = nearest(to);
    if (a.i < b.i && (!best || a.d + b.d < best.score)) best = { score: a.d + b.d, points: points.slice(a.i, b.i + 1) };
  }
  const points = best ? best.points : [from, to];
  return points.map((p) => [p.lat, p.lon]);
}

function drawMap(L, box, net, config, it) {
  const map = L.map(box, { zoomControl: false, keyboard: true });
  L.control.zoom({ zoomInTitle: "+", zoomOutTitle: "−" }).addTo(map);
  if (config.tile_url) {
    L.tileLayer(config.tile_url, { attribution: config.tile_attribution, maxZoom: 19 }).addTo(map);
  }
  for (const line of net.lines) {
    L.polyline(line.geometry.coordinates.map(([lon, lat]) => [lat, lon]),
      { color: line.properties.color || "#595959", weight: 2, opacity: 0.45, interactive: false }).addTo(map);
  }
  for (const stop of net.stops) {
    L.circleMarker([stop.lat, stop.lon], { radius: 3, color: "#1a1a1a", weight: 1, fillColor: "#fff", fillOpacity: 1, interactive: false }).addTo(map);
  }
  const path = [];
  for (const leg of it.legs) {
    const points = leg.trip_id ? ridePath(net, leg) : [[leg.from.lat, leg.from.lon], [leg.to.lat, leg.to.lon]];
    path.push(...points);
    L.polyline(points, { color: leg.trip_id ? "#00549f" : "#1b6e20", weight: 6, opacity: 0.9, interactive: false,
      dashArray: leg.trip_id ? null : "6 8", className: "weg" }).addTo(map);
  }
  map.fitBounds(L.latLngBounds(path).pad(0.15));
  return map;
}

// the advice for the next traffic light while riding a shared bike, from the live SPaT
// (``GET /api/v1/mobility/cyclist-advice``, at most every 2 s); nothing is shown while there
// is no light ahead (204) or the hub gives no advice (404, 503)
function cyclistAdvice(region) {
  if (!navigator.geolocation) return () => {};
  let last = 0, gone = false;
  const watch = navigator.geolocation.watchPosition(async (p) => {
    if (gone || Date.now() - last < 2000) return;
    last = Date.now();
    const c = p.coords;
    const q = new URLSearchParams({ lat: c.latitude.toFixed(6), lon: c.longitude.toFixed(6),
      heading: String(Number.isFinite(c.heading) ? Math.round(c.heading) % 360 : 0),
      speed: String(Number.isFinite(c.speed) ? Math.min(Math.max(c.speed, 0), 20).toFixed(1) : 0) });
    try {
      const a = await getJson(`/api/v1/mobility/cyclist-advice?${q}`);
      if (!a || !a.name) { region.hidden = true; return; }
      const advice = t("signalAdvice")[a.advice_kind];
      const words = typeof advice === "function" ? advice(Math.round(a.advice_speed_kmh || 0)) : advice || "";
      const state = t("signalStates")[a.state] || "";
      const change = a.seconds_to_change === null || a.seconds_to_change === undefined ? ""
        : ` ${t("signalChange", Math.round(a.seconds_to_change))}`;
      region.querySelector(".ampel-text").textContent =
        `${t("signalAt", a.name, Math.round(a.distance_m))}${state ? `: ${state}` : ""}.${change}`;
      region.querySelector(".ampel-rat").textContent = words;
      region.hidden = false;
    } catch (error) {
      if ([404, 405, 503].includes(error.status)) gone = true; // this hub gives no advice
    }
  }, () => {}, { enableHighAccuracy: true });
  return () => navigator.geolocation.clearWatch(watch);
}

export async function followView(index) {
  const kept = lastOptions();
  const it = kept?.itineraries?.[Number(index)];
  if (!it) {
    show(t("followTitle"), [el("p", { text: t("bookGone") }), el("p", {}, el("a", { href: "#/", text: t("toStart") }))]);
    return () => {};
  }
  const rides = it.legs.filter((leg) => leg.trip_id);
  const rows = new Map(rides.map((leg) => [leg.trip_id, {
    leg, delay: el("p", { class: "live-verspaetung", text: `${lineName(leg)}: ${delayText(leg.delay_s, leg.realtime)}.` }),
    seen: el("p", { class: "meta live-gesehen", text: t("vehicleWaiting", lineName(leg)) }), marker: null,
  }]));
  const bike = it.legs.some((leg) => leg.mode === "BIKE_SHARING");
  const signal = bike ? el("section", { id: "ampel", class: "ampel", "aria-labelledby": "ampel-titel", "aria-live": "polite", hidden: true },
    el("h2", { id: "ampel-titel", text: t("signal") }), el("p", { class: "ampel-rat" }), el("p", { class: "ampel-text" })) : null;
  const back = kept.search ? el("p", {}, el("a", { href: `#/optionen?${new URLSearchParams({
    von: kept.search.from, vonName: kept.search.fromName, nach: kept.search.to, nachName: kept.search.toName,
    zeit: String(kept.search.time), ...(kept.search.arriveBy ? { ankunft: "1" } : {}),
    ...(kept.search.wheelchair ? { rollstuhl: "1" } : {}), ...(kept.search.bike ? { rad: "1" } : {}) })}`, text: t("back") })) : null;
  const mapBox = el("div", { id: "karte", class: "karte", role: "region", "aria-label": t("mapLabel"), "aria-describedby": "karte-hinweis" });
  show(`${t("followTitle")}: ${clock(it.departure)} – ${clock(it.arrival)}`, [
    summary(it),
    el("div", { class: "live", role: "status" }, ...[...rows.values()].map((r) => r.delay)),
    el("div", {}, ...[...rows.values()].map((r) => r.seen)),
    signal,
    el("p", { class: "versteckt", id: "karte-hinweis", text: t("mapHint") }),
    mapBox,
    el("ol", { class: "abschnitte" }, ...it.legs.map(legItem)),
    back]);

  let stopped = false;
  let timer = null;
  const stopAdvice = signal ? cyclistAdvice(signal) : () => {};
  const [L, net, config] = await Promise.all([loadLeaflet(), loadNetwork(), appConfig()]);
  if (!mapBox.isConnected) { stopAdvice(); return () => {}; } // the passenger left meanwhile
  const map = drawMap(L, mapBox, net, config, it);

  async function poll() {
    try {
      const [positions, updates] = await Promise.all([vehiclePositions(), tripUpdates()]);
      const now = Date.now();
      for (const e of positions.entity || []) {
        const v = e.vehicle;
        const row = v && v.trip && rows.get(v.trip.trip_id);
        if (!row || !v.position) continue;
        const at = [v.position.latitude, v.position.longitude];
        if (!row.marker) {
          row.marker = L.circleMarker(at, { radius: 9, color: "#fff", weight: 3, fillColor: "#a4001d", fillOpacity: 1,
            interactive: false, className: "fahrzeug" }).addTo(map);
        } else row.marker.setLatLng(at);
        const ago = Math.max(0, Math.round((now - Number(v.timestamp || 0) * 1000) / 1000));
        const occupancy = v.occupancy_status && t("occ")[v.occupancy_status];
        row.seen.textContent = t("vehicleSeen", lineName(row.leg), ago) + (occupancy ? ` ${t("occupancy")}: ${occupancy}.` : "");
      }
      for (const e of updates.entity || []) {
        const u = e.trip_update;
        const row = u && u.trip && rows.get(u.trip.trip_id);
        if (!row) continue;
        const delay = u.delay ?? u.stop_time_update?.[0]?.departure?.delay ?? 0;
        const text = t("vehicleDelay", lineName(row.leg), delayText(delay, true));
        if (row.delay.textContent !== text) row.delay.textContent = text; // announced only on a change
      }
    } catch {
      // offline for a moment: the next poll tries again
    }
    if (!stopped) timer = window.setTimeout(poll, POLL_MS);
  }
  poll();
  return () => {
    stopped = true;
    window.clearTimeout(timer);
    stopAdvice();
    map.remove();
  };
}
