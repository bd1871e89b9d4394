// Reading the hub (only the hub: the page's policy allows no other origin) and what the app
// keeps in this browser: the last search's options (this tab), bookings' passenger tokens and
// bought tickets (this device, so a ticket shows without network).

import { t } from "./app-i18n.js";

export class Problem extends Error {
  constructor(message, status = 0, detail = "") {
    super(message);
    this.status = status;
    this.detail = detail;
  }
}

async function reach(url, options = {}) {
  try {
    return await fetch(url, { ...options, headers: { Accept: "application/json", ...(options.headers || {}) } });
  } catch {
    throw new Problem(t("noConnection"));
  }
}

// a JSON answer, or a Problem carrying the hub's reason (``detail``)
export async function getJson(url, options) {
  const answer = await reach(url, options);
  if (answer.status === 204) return null; // nothing to say (no light ahead)
  const body = await answer.json().catch(() => null);
  if (!answer.ok) {
    const detail = body && typeof body.detail === "string" ? body.detail : "";
    throw new Problem(detail || `HTTP ${answer.status}`, answer.status, detail);
  }
  return body;
}

const post = (url, body, headers = {}) => getJson(url, {
  method: "POST", headers: { "Content-Type": "application/json", ...headers },
  body: body === undefined ? undefined : JSON.stringify(body),
});

// -- what the hub tells the app, and its network --------------------------------------------

let config = null;
export async function appConfig() {
  config ??= getJson("/api/v1/mobility/app-config").catch(() => ({ tile_url: null, tile_attribution: "", tickets: false }));
  return config;
}

let network = null;
// the network's stops (with the lines that call there) and lines, fetched once
export async function loadNetwork() {
  network ??= getJson("/api/v1/mobility/network").then(indexNetwork).catch((error) => {
    network = null;
    throw error;
  });
  return network;
}

function indexNetwork(geojson) {
  const lines = geojson.features.filter((f) => f.properties.kind === "line");
  const stops = geojson.features.filter((f) => f.properties.kind === "stop").map((f) => ({
    id: f.properties.stop_id, name: f.properties.name, stepFree: f.properties.step_free,
    lon: f.geometry.coordinates[0], lat: f.geometry.coordinates[1], lines: new Set(),
  }));
  // which lines call at a stop: a vertex of the line's shape within ~40 m (a grid, not all pairs)
  const cell = (lat, lon) => `${Math.round(lat * 1500)}:${Math.round(lon * 1000)}`;
  const grid = new Map();
  for (const s of stops) {
    for (const dy of [-1, 0, 1]) for (const dx of [-1, 0, 1]) {
      const key = `${Math.round(s.lat * 1500) + dy}:${Math.round(s.lon * 1000) + dx}`;
      if (!grid.has(key)) grid.set(key, []);
      grid.get(key).push(s);
    }
  }
  for (const line of lines) {
    for (const [lon, lat] of line.geometry.coordinates) {
      for (const s of grid.get(cell(lat, lon)) || []) {
        if (metres(s, { lat, lon }) < 40) s.lines.add(line.properties.name);
      }
    }
  }
  const routes = new Map(lines.map((l) => [l.properties.route_id, l.properties.name]));
  return { geojson, stops, lines, routes, byId: new Map(stops.map((s) => [s.id, s])) };
}

export function metres(a, b) {
  const rad = Math.PI / 180;
  const x = (b.lon - a.lon) * rad * Math.cos(((a.lat + b.lat) / 2) * rad);
  const y = (b.lat - a.lat) * rad;
  return Math.round(Math.sqrt(x * x + y * y) * 6_371_000);
}

export function nearestStops(net, position, count = 3) {
  return net.stops.map((s) => ({ stop: s, distance: metres(position, s) }))
    .sort((a, b) => a.distance - b.distance).slice(0, count);
}

// the device's position, or a Problem
export function locate() {
  return new Promise((resolve, reject) => {
    if (!navigator.geolocation) { reject(new Problem(t("errPosition"))); return; }
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ lat: p.coords.latitude, lon: p.coords.longitude }),
      () => reject(new Problem(t("errPosition"))), { timeout: 15000, maximumAge: 60000 });
  });
}

// -- planning ---------------------------------------------------------------------------------

export const journeys = (params) => getJson(`/api/v1/journeys?${new URLSearchParams(params)}`);
export const departures = (stopId, limit = 6) =>
  getJson(`/api/v1/stops/${encodeURIComponent(stopId)}/departures?limit=${limit}`);

// the live feeds, as JSON: every vehicle's position, every trip's delay
export const vehiclePositions = () => getJson("/gtfs-rt/vehicle-positions?format=json");
export const tripUpdates = () => getJson("/gtfs-rt/trip-updates?format=json");

// the last search's options, for the views that show one of them (this tab only)
const OPTIONS = "kassel-app.optionen";
export function keepOptions(search, itineraries) {
  sessionStorage.setItem(OPTIONS, JSON.stringify({ search, itineraries }));
}
export function lastOptions() {
  try { return JSON.parse(sessionStorage.getItem(OPTIONS)) || null; } catch { return null; }
}

// -- tickets ------------------------------------------------------------------------------------

const BOOKINGS = "kassel-app.buchungen";
const TICKETS = "kassel-app.fahrscheine";
const read = (key) => { try { return JSON.parse(localStorage.getItem(key)) || {}; } catch { return {}; } };
const write = (key, value) => localStorage.setItem(key, JSON.stringify(value));

// a booking made without an account: its token (shown once by the hub) and the journey as the
// passenger saw it, kept on this device across the payment provider's page
export const storedBooking = (id) => read(BOOKINGS)[id] || null;
export function keepBooking(id, record) {
  const all = read(BOOKINGS);
  all[id] = { ...(all[id] || {}), ...record };
  write(BOOKINGS, all);
}

export const storedTickets = () => Object.values(read(TICKETS)).sort((a, b) => a.ticket.valid_from - b.ticket.valid_from);
export const storedTicket = (id) => read(TICKETS)[id] || null;
export function keepTicket(id, signed, journey) {
  const all = read(TICKETS);
  all[id] = { id, ...signed, journey };
  write(TICKETS, all);
}

const auth = (id) => ({ Authorization: `Bearer ${storedBooking(id)?.token || ""}` });
export const createBooking = (body, key) => post("/api/v1/bookings", body, { "Idempotency-Key": key });
export const booking = (id) => getJson(`/api/v1/bookings/${encodeURIComponent(id)}`, { headers: auth(id) });
export const checkout = (id) => post(`/api/v1/bookings/${encodeURIComponent(id)}/checkout`, undefined, auth(id));
export const operate = (id, operation) => post(`/api/v1/bookings/${encodeURIComponent(id)}/events`, { operation }, auth(id));
export const ticket = (id) => getJson(`/api/v1/bookings/${encodeURIComponent(id)}/ticket`, { headers: auth(id) });
