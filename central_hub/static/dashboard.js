// Kassel hub dashboard: vanilla JS, no external assets. Initial state over REST, then
// coalesced frames over /ws/live (see central_hub/live/dashboard_feed.py).
"use strict";
const S = { network: null, vehicles: {}, spat: {}, maps: {}, ixs: {}, devices: {}, alarms: [],
            history: {}, selected: null, frames: 0, bounds: null };
window.__hub = S;  // for tests and debugging
const OCC = { EMPTY: "#2e7d32", MANY_SEATS_AVAILABLE: "#2e7d32", FEW_SEATS_AVAILABLE: "#c0ca33",
  STANDING_ROOM_ONLY: "#fb8c00", CRUSHED_STANDING_ROOM_ONLY: "#e53935", FULL: "#6a1b9a",
  NOT_ACCEPTING_PASSENGERS: "#6a1b9a" };
const LAMP = { "stop-And-Remain": "#e53935", "stop-Then-Proceed": "#e53935", "pre-Movement": "#ff8f00",
  "permissive-Movement-Allowed": "#43a047", "protected-Movement-Allowed": "#2e7d32",
  "permissive-clearance": "#fdd835", "protected-clearance": "#fdd835",
  "caution-Conflicting-Traffic": "#ffb300", "dark": "#424242", "unavailable": "#616161" };
const SVGNS = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));

async function getJSON(path) { const r = await fetch(path); if (!r.ok) throw new Error(path); return r.json(); }

function computeBounds() {
  const pts = [];
  if (S.network) { for (const r of S.network.routes) for (const sh of r.shapes) pts.push(...sh);
    for (const s of S.network.stops) pts.push([s.lat, s.lon]); }
  for (const m of Object.values(S.maps)) pts.push([m.lat, m.lon]);
  for (const v of Object.values(S.vehicles)) if (v.position) pts.push([v.position.lat, v.position.lon]);
  if (!pts.length) return null;
  let [a, b, c, d] = [90, -90, 180, -180];
  for (const [lat, lon] of pts) { a = Math.min(a, lat); b = Math.max(b, lat); c = Math.min(c, lon); d = Math.max(d, lon); }
  const padLat = (b - a) * 0.05 + 1e-3, padLon = (d - c) * 0.05 + 1e-3;
  return { minLat: a - padLat, maxLat: b + padLat, minLon: c - padLon, maxLon: d + padLon };
}
function xy(lat, lon) {
  const B = S.bounds || { minLat: 51.28, maxLat: 51.35, minLon: 9.42, maxLon: 9.56 };
  const k = Math.cos(((B.minLat + B.maxLat) / 2) * Math.PI / 180);
  const w = (B.maxLon - B.minLon) * k, h = B.maxLat - B.minLat, sc = Math.min(1000 / w, 700 / h);
  return [((lon - B.minLon) * k) * sc + (1000 - w * sc) / 2, 700 - ((lat - B.minLat) * sc + (700 - h * sc) / 2)];
}
function el(tag, attrs) { const e = document.createElementNS(SVGNS, tag); for (const k in attrs) e.setAttribute(k, attrs[k]); return e; }

function drawStatic() {
  S.bounds = computeBounds();
  const routes = $("routes"), stops = $("stops"); routes.innerHTML = ""; stops.innerHTML = "";
  if (!S.network) return;
  for (const r of S.network.routes) for (const sh of r.shapes) {
    routes.appendChild(el("polyline", { points: sh.map(([a, b]) => xy(a, b).join(",")).join(" "),
      fill: "none", stroke: "#" + (r.color || "888888"), "stroke-width": 4, "stroke-opacity": 0.6 }));
  }
  for (const s of S.network.stops) { const [x, y] = xy(s.lat, s.lon);
    const c = el("circle", { cx: x, cy: y, r: 3, fill: "#cfd8dc" }); c.appendChild(el("title", {})).textContent = s.name; stops.appendChild(c); }
}
function drawIntersections() {
  const g = $("intersections"); g.innerHTML = "";
  for (const [id, m] of Object.entries(S.maps)) {
    const [x, y] = xy(m.lat, m.lon), sp = S.spat[id];
    const state = sp && sp.groups.length ? sp.groups[0].state : "unavailable";
    const bad = sp && ["flashing", "fault", "dark"].includes(sp.status);
    const c = el("rect", { x: x - 7, y: y - 7, width: 14, height: 14, rx: 3, fill: LAMP[state] || "#616161",
      stroke: bad ? "#ff1744" : "#fff", "stroke-width": bad ? 3 : 1, "data-ix": id, cursor: "pointer" });
    c.appendChild(el("title", {})).textContent = `${m.name} (${id})`;
    c.addEventListener("click", () => select(id)); g.appendChild(c);
  }
}
function drawBuses() {
  const g = $("buses"); g.innerHTML = "";
  for (const [id, v] of Object.entries(S.vehicles)) {
    if (!v.position) continue;
    const [x, y] = xy(v.position.lat, v.position.lon);
    const col = v.occupancy ? (OCC[v.occupancy.occupancy_status] || "#9e9e9e") : "#9e9e9e";
    const c = el("circle", { cx: x, cy: y, r: 7, fill: col, stroke: v.online === false ? "#ef5350" : "#000",
      "stroke-width": 2, "data-vehicle": id, "data-occupancy": v.occupancy ? v.occupancy.occupancy_status : "" });
    c.appendChild(el("title", {})).textContent = `bus ${id}` + (v.occupancy ? ` · ${v.occupancy.occupancy_percentage} %` : "");
    g.appendChild(c);
  }
}
function renderIxTable() {
  const now = Date.now(), body = $("ix-table").tBodies[0], rows = [];
  const ids = new Set([...Object.keys(S.ixs), ...Object.keys(S.spat)]);
  for (const id of [...ids].sort()) {
    const sp = S.spat[id], st = sp ? sp.status : (S.ixs[id] || {}).status || "–";
    const groups = sp ? sp.groups.map((g) => {
      const left = g.likely_end ? Math.max(0, Math.round((g.likely_end - now) / 1000)) : "";
      return `<span class="sg" style="background:${LAMP[g.state] || "#616161"}">${esc(g.sg)} ${left}</span>`; }).join("") : "";
    rows.push(`<tr data-ix="${esc(id)}" class="${id === S.selected ? "sel" : ""}"><td>${esc(id)}</td><td>${esc(st)}</td><td>${groups}</td></tr>`);
  }
  body.innerHTML = rows.join("");
  for (const tr of body.rows) tr.addEventListener("click", () => select(tr.dataset.ix));
}
function renderDevices() {
  const rows = Object.entries(S.devices).sort().map(([id, d]) => {
    const h = d.health || {}, q = h.queue || {};
    const state = d.online === false ? "offline" : d.online ? "online" : "?";
    return `<tr><td>${esc(id)}</td><td class="${state}">${state}</td><td>${h.cpu_pct != null ? Math.round(h.cpu_pct) + " %" : ""}</td>` +
      `<td>${h.mem_pct != null ? Math.round(h.mem_pct) + " %" : ""}</td><td>${q.depth != null ? q.depth + (q.dropped ? " / " + q.dropped + " dropped" : "") : ""}</td></tr>`; });
  $("dev-table").tBodies[0].innerHTML = rows.join("");
}
function renderAlarms() {
  const open = S.alarms.filter((a) => a.active);
  $("alarm-count").textContent = open.length;
  $("alarms").innerHTML = open.map((a) => `<li class="${esc(a.severity)} ${a.acked_ms ? "acked" : ""}" data-kind="${esc(a.kind)}" data-device="${esc(a.device_id)}">` +
    `${new Date(a.raised_ms).toLocaleTimeString()} · ${esc(a.message)}</li>`).join("");
}
let alarmFetch = null;
function refreshAlarms() {
  if (alarmFetch) return;
  alarmFetch = setTimeout(async () => { alarmFetch = null;
    try { S.alarms = await getJSON("/api/v1/alarms?state=open"); renderAlarms(); } catch (e) { /* retried on next frame */ } }, 300);
}
async function select(id) {
  S.selected = id; $("diagram-title").textContent = id;
  try { S.history[id] = await getJSON(`/api/v1/intersections/${encodeURIComponent(id)}/history?seconds=300`); } catch (e) { S.history[id] = []; }
  renderIxTable(); drawDiagram();
}
function pushHistory(id, sp) {
  const h = S.history[id]; if (!h) return;
  const cur = {}; for (const e of h) cur[e.sg] = e.state;
  for (const g of sp.groups) if (cur[g.sg] !== g.state) h.push({ sg: g.sg, state: g.state, start_ms: sp.ts });
  const cutoff = Date.now() - 300000; while (h.length > 2000 || (h.length && h[0].start_ms < cutoff - 60000)) h.shift();
}
function drawDiagram() {
  const cv = $("diagram"), ctx = cv.getContext("2d"), id = S.selected;
  ctx.clearRect(0, 0, cv.width, cv.height);
  if (!id || !S.history[id]) return;
  const h = S.history[id], now = Date.now(), span = 300000, left = 60;
  const sgs = [...new Set(h.map((e) => e.sg))].sort(), rowH = Math.min(28, (cv.height - 16) / Math.max(1, sgs.length));
  ctx.font = "12px sans-serif";
  sgs.forEach((sg, i) => {
    const ev = h.filter((e) => e.sg === sg), y = 4 + i * rowH;
    ctx.fillStyle = "#ccc"; ctx.fillText(sg, 6, y + rowH * 0.7);
    ev.forEach((e, k) => { const end = k + 1 < ev.length ? ev[k + 1].start_ms : now;
      const x0 = left + Math.max(0, (e.start_ms - (now - span)) / span) * (cv.width - left - 4);
      const x1 = left + Math.max(0, (end - (now - span)) / span) * (cv.width - left - 4);
      if (x1 > x0) { ctx.fillStyle = LAMP[e.state] || "#616161"; ctx.fillRect(x0, y, x1 - x0, rowH - 4); } });
  });
  ctx.fillStyle = "#888"; ctx.fillText("−5 min", left, cv.height - 2); ctx.fillText("now", cv.width - 30, cv.height - 2);
}
function applyFrame(f) {
  S.frames += 1;
  let moved = false;
  if (f.maps) { Object.assign(S.maps, f.maps); S.bounds = null; moved = true; }
  if (f.spat) for (const [id, sp] of Object.entries(f.spat)) { S.spat[id] = sp; pushHistory(id, sp); }
  if (f.vehicles) { for (const [id, v] of Object.entries(f.vehicles)) S.vehicles[id] = v; }
  if (f.devices) { for (const [id, d] of Object.entries(f.devices)) S.devices[id] = Object.assign(S.devices[id] || {}, d); renderDevices(); }
  if (f.alarms) refreshAlarms();
  if (moved) drawStatic();
  drawIntersections(); drawBuses();
}
function connect() {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/live");
  ws.onopen = () => { $("conn").textContent = "live"; $("conn").className = "conn up"; };
  ws.onmessage = (ev) => applyFrame(JSON.parse(ev.data));
  ws.onclose = () => { $("conn").textContent = "reconnecting…"; $("conn").className = "conn down"; setTimeout(connect, 1000); };
}
async function init() {
  try { S.network = await getJSON("/api/v1/network"); } catch (e) { S.network = null; }
  try { for (const v of await getJSON("/api/v1/vehicles")) S.vehicles[v.vehicle_id] = v; } catch (e) { /* live frames fill in */ }
  try { for (const i of await getJSON("/api/v1/intersections")) { S.ixs[i.intersection_id] = i;
    if (i.lat != null) S.maps[i.intersection_id] = { lat: i.lat, lon: i.lon, name: i.name }; } } catch (e) { /* idem */ }
  try { for (const d of await getJSON("/api/v1/devices")) S.devices[d.device_id] = d; } catch (e) { /* idem */ }
  refreshAlarms(); drawStatic(); drawIntersections(); drawBuses(); renderDevices(); connect();
  setInterval(() => { $("clock").textContent = new Date().toLocaleTimeString(); renderIxTable(); drawDiagram(); }, 500);
}
init();
