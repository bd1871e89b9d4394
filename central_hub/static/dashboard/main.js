// Kassel hub dashboard: initial state from one snapshot frame over /ws/live, then coalesced
// frames of what visibly changed (central_hub/live/dashboard_feed.py). No framework: small
// modules, HTML first; no inline script (for a strict Content-Security-Policy).
import { signIn, signOut, role } from "./auth.js";
import { AlarmPanel } from "./alarms.js";
import { NetworkMap } from "./map.js";
import { lampOf, LAMP_NAME, COLOUR, DEGRADED, countdown } from "./signals.js";
import { qualityCell, qualityDetail, reliabilityPlot } from "./quality.js";

const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const S = { network: null, vehicles: {}, spat: {}, maps: {}, devices: {}, stale: {}, health: {},
  history: {}, selected: null, frames: 0, n: null, skew: 0, staleMs: 1000 };
window.__hub = S;  // for tests and debugging

const hubNow = () => Date.now() - S.skew;
const fmtAge = (ms) => (ms < 60000 ? `${Math.round(ms / 1000)} s` : `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`);
function fmtDelay(s) {
  if (s == null) return "–";
  const a = Math.abs(s), m = Math.floor(a / 60), r = String(a % 60).padStart(2, "0");
  return `${s < 0 ? "−" : "+"}${m}:${r}`;
}
function punctuality(s) { return s == null ? "none" : s < -60 ? "early" : s > 180 ? "late" : "on_time"; }
const PUNCT_TEXT = { early: "early", on_time: "on time", late: "late", none: "no trip" };
// the C-ITS badge: whether the intersection's SPATEM says what its JSON SPaT says (polled health)
const ETSI_TEXT = { agrees: "agrees", differs: "differs", unchecked: "not checked yet", none: "no ETSI output" };
const ETSI_CLASS = { agrees: "good", differs: "bad", unchecked: "", none: "" };
function etsiBadge(h, full) {  // full: the difference spelled out (else only in the tooltip)
  if (!h.etsi) return "–";  // health not polled yet
  const st = h.etsi, diff = st === "differs" && h.etsi_difference ? h.etsi_difference : "";
  return `<span class="etsi ${ETSI_CLASS[st]}" data-etsi="${st}" title="${esc(diff || "latest sampled SPATEM against the SPaT of its tick")}">` +
    `${ETSI_TEXT[st]}${diff && full ? ` <small>(${esc(diff)})</small>` : ""}</span>`;
}
// the controller's own word on its prediction (SPaT "prediction"): the live SPaT's, else the
// polled health's; absent from controllers that do not report it
const PRED_CLASS = { ok: "good", degraded: "warn", stale: "bad" };
const REASON_TEXT = { learning: "learning", fail_safe: "fail-safe", flash: "flashing (operator)",
  clearing: "all-red before a program", more: "more", fault: "card fault", stuck: "stuck occupied",
  silent: "silent", unheard: "never heard" };
function reasonText(r) {
  const [kind, det] = r.split(":");
  return det ? `${det} ${REASON_TEXT[kind] || kind}` : REASON_TEXT[r] || r;
}
function predictionOf(id) {
  const sp = S.spat[id], h = S.health[id];
  return (sp && sp.prediction) || (h && h.spat_prediction) || null;
}
function predictionBadge(p, full) {  // full: the reasons spelled out (else only in the tooltip)
  if (!p) return "";
  const why = (p.reasons || []).map(reasonText).join(", ");
  return `<span class="pstate ${PRED_CLASS[p.state] || ""}" data-prediction="${esc(p.state)}" title="${esc(why || "the controller's prediction status")}">` +
    `${esc(p.state)}${why && full ? ` <small>(${esc(why)})</small>` : ""}</span>`;
}

const map = new NetworkMap($("map"), (id) => select(id));
const alarms = new AlarmPanel(document.querySelector("aside"));

// --- intersections ---------------------------------------------------------------------------
function drawIx(id) { map.setIntersection(id, S.maps[id], S.spat[id], id in S.stale, id === S.selected); }

function renderIxTable() {
  const ids = [...new Set([...Object.keys(S.maps), ...Object.keys(S.spat)])].sort();
  const now = hubNow();
  const rows = ids.map((id) => {
    const sp = S.spat[id], h = S.health[id] || {}, m = S.maps[id];
    const st = sp ? sp.status : "–", stale = id in S.stale;
    const age = stale ? now - S.stale[id] : sp ? null : undefined;
    const ageCell = age === undefined ? '<td class="bad">no SPaT</td>'
      : stale ? `<td class="bad stale-age">${fmtAge(age)}</td>` : '<td class="good">&lt; 1 s</td>';
    const glyphs = sp ? sp.groups.map((g) => `<i class="sg sg-${lampOf(g.state)}" title="${esc(g.sg)}"></i>`).join("") : "";
    const sus = h.detector_suspicions || [];
    const det = !h.detectors ? "none heard" : sus.length
      ? `<span class="bad" title="${esc(sus.map((s) => `${s.detector}: ${s.fault.replace("_", " ")}`).join(", "))}">${sus.length} suspect / ${h.detectors}</span>`
      : `${h.detectors} heard, ok`;
    const pred = qualityCell(h.prediction);
    const conf = h.confidence != null ? ` · ${h.confidence} %` : "";
    const ps = predictionBadge(predictionOf(id), false);
    return `<tr data-ix="${esc(id)}" class="${id === S.selected ? "sel" : ""}${stale ? " stale" : ""}">` +
      `<td><button type="button" class="link" data-ix="${esc(id)}">${esc(m ? m.name : id)}</button><br><small>${esc(id)}</small></td>` +
      `<td>${glyphs}</td><td class="${sp && DEGRADED.has(st) ? "bad" : ""}">${esc(st)}</td>${ageCell}<td>${det}</td>` +
      `<td><span title="last hour: mean error of red/green ends predicted up to 10 s ahead · share of switches within their bounds · controller confidence">${pred}${conf}</span>${ps ? ` ${ps}` : ""}</td>` +
      `<td>${etsiBadge(h, false)}</td></tr>`;
  });
  $("ix-table").tBodies[0].innerHTML = rows.join("");
}
$("ix-table").addEventListener("click", (ev) => { const b = ev.target.closest("button[data-ix]"); if (b) select(b.dataset.ix); });

function renderSelected() {
  const id = S.selected;
  const body = $("sel-groups").tBodies[0];
  if (!id) { body.innerHTML = ""; return; }
  const sp = S.spat[id], m = S.maps[id], h = S.health[id] || {}, now = hubNow();
  $("sel-name").textContent = `${m ? m.name : id} (${id})`;
  const stale = id in S.stale;
  const mg = {}; for (const g of (m && m.groups) || []) mg[g.sg] = g;
  body.innerHTML = sp ? sp.groups.map((g) => {
    const lamp = lampOf(g.state), cd = countdown(g, now), info = mg[g.sg];
    return `<tr data-sg="${esc(g.sg)}" data-lamp="${lamp}"><th scope="row"><i class="sg sg-${lamp}"></i>${esc(g.sg)}` +
      `${info ? ` <small>${esc(info.kind)} ${esc(info.approach)}</small>` : ""}</th>` +
      `<td>${LAMP_NAME[lamp]} <small>${esc(g.state)}</small></td>` +
      `<td class="countdown${cd.due ? " due" : ""}${stale ? " stale" : ""}" title="${esc(cd.title)}">${stale ? "no SPaT" : cd.text}</td>` +
      `<td>${g.confidence} %</td></tr>`;
  }).join("") : '<tr><td colspan="4">no SPaT received</td></tr>';
  const sus = h.detector_suspicions || [];
  $("sel-health").innerHTML =
    `<dt>controller</dt><dd class="${sp && DEGRADED.has(sp.status) ? "bad" : ""}">${esc(sp ? sp.status : "–")}</dd>` +
    `<dt>last SPaT</dt><dd class="${stale ? "bad" : "good"}" data-testid="spat-age">${stale ? `${fmtAge(now - S.stale[id])} ago (stale)` : sp ? "live" : "none"}</dd>` +
    `<dt>detectors</dt><dd class="${sus.length ? "bad" : ""}">${h.detectors == null ? "–" : `${h.detectors} heard` +
      (sus.length ? `; suspect: ${sus.map((s) => `${esc(s.detector)} ${s.fault === "stuck_on" ? "occupied" : "unchanged"} ${fmtAge(now - s.since_ms)}`).join(", ")}` : ", none suspect")}</dd>` +
    `<dt>prediction <small>last hour</small></dt><dd data-testid="prediction">${qualityDetail(h.prediction)}` +
    `${h.confidence != null ? `; controller confidence ${h.confidence} %` : ""}</dd>` +
    (h.prediction ? `<dt>reliability</dt><dd>${reliabilityPlot(h.prediction.reliability)}</dd>` : "") +
    `<dt>prediction status</dt><dd data-testid="prediction-state">${predictionBadge(predictionOf(id), true) || "not reported"}</dd>` +
    `<dt>C-ITS</dt><dd data-testid="etsi">${etsiBadge(h, true)}</dd>`;
}

async function select(id) {
  const prev = S.selected;
  S.selected = id; $("diagram-title").textContent = `· ${S.maps[id] ? S.maps[id].name : id}`;
  if (prev && prev !== id) drawIx(prev);
  drawIx(id); map.focus(id); renderSelected(); renderIxTable();
  try {
    const r = await fetch(`/api/v1/intersections/${encodeURIComponent(id)}/history?seconds=300`);
    S.history[id] = r.ok ? await r.json() : [];
  } catch (e) { S.history[id] = []; }
  drawDiagram();
}

// --- buses -----------------------------------------------------------------------------------
function busLabel(id, v) {
  const line = v.position && v.position.route_id ? v.position.route_id : "";
  return `${line ? line + " " : ""}${v.delay_s == null ? id : fmtDelay(v.delay_s)}`;
}
function drawBus(id) {
  const v = S.vehicles[id];
  map.setBus(id, v, v.online === false ? "none" : punctuality(v.delay_s), busLabel(id, v));
}
function renderBuses() {
  const rows = Object.entries(S.vehicles).filter(([, v]) => v.position)
    .sort(([a, x], [b, y]) => (y.delay_s ?? -1e9) - (x.delay_s ?? -1e9) || a.localeCompare(b))
    .map(([id, v]) => {
      const k = punctuality(v.delay_s), occ = v.occupancy;
      return `<tr data-vehicle="${esc(id)}" data-punctuality="${k}" class="${v.online === false ? "offline" : ""}">` +
        `<td><button type="button" class="link" data-bus="${esc(id)}">${esc(id)}</button></td><td>${esc(v.position.route_id || "–")}</td>` +
        `<td class="delay ${k}" data-delay="${v.delay_s ?? ""}">${fmtDelay(v.delay_s)} <small>${PUNCT_TEXT[k]}</small></td>` +
        `<td>${occ ? `${occ.occupancy_percentage} %` : "–"}</td></tr>`;
    });
  $("bus-table").tBodies[0].innerHTML = rows.join("");
}
$("bus-table").addEventListener("click", (ev) => { const b = ev.target.closest("button[data-bus]"); if (b) map.panToBus(b.dataset.bus); });

function renderDevices() {
  const rows = Object.entries(S.devices).sort().map(([id, d]) => {
    const h = d.health || {}, q = h.queue || {};
    const state = d.online === false ? "offline" : d.online ? "online" : "?";
    return `<tr><td>${esc(id)}</td><td class="${state === "offline" ? "bad" : state === "online" ? "good" : ""}">${state}</td>` +
      `<td>${h.cpu_pct != null ? Math.round(h.cpu_pct) + " %" : ""}</td><td>${h.mem_pct != null ? Math.round(h.mem_pct) + " %" : ""}</td>` +
      `<td>${q.depth != null ? q.depth + (q.dropped ? ` / ${q.dropped} dropped` : "") : ""}</td></tr>`;
  });
  $("dev-table").tBodies[0].innerHTML = rows.join("");
}

// --- phase diagram ---------------------------------------------------------------------------
function pushHistory(id, sp) {
  const h = S.history[id]; if (!h) return;
  const cur = {}; for (const e of h) cur[e.sg] = e.state;
  for (const g of sp.groups) if (cur[g.sg] !== g.state) h.push({ sg: g.sg, state: g.state, start_ms: sp.ts });
  const cutoff = hubNow() - 360000;
  while (h.length > 2000 || (h.length > 1 && h[0].start_ms < cutoff)) h.shift();
}
function drawDiagram() {
  const cv = $("diagram"), ctx = cv.getContext("2d"), id = S.selected;
  if (cv.clientWidth && cv.width !== cv.clientWidth) cv.width = cv.clientWidth;
  ctx.clearRect(0, 0, cv.width, cv.height);
  if (!id || !S.history[id]) return;
  const h = S.history[id], now = hubNow(), span = 300000, left = 60, w = cv.width - left - 4;
  const sgs = [...new Set(h.map((e) => e.sg))].sort();
  const height = Math.max(130, 18 + 16 * sgs.length);
  if (cv.height !== height) cv.height = height;
  const rowH = Math.min(24, (cv.height - 16) / Math.max(1, sgs.length));
  ctx.font = "12px system-ui, sans-serif";
  sgs.forEach((sg, i) => {
    const ev = h.filter((e) => e.sg === sg), y = 2 + i * rowH;
    ctx.fillStyle = "#dfe3e8"; ctx.fillText(sg, 6, y + rowH * 0.7);
    ev.forEach((e, k) => {
      const end = k + 1 < ev.length ? ev[k + 1].start_ms : (id in S.stale ? S.stale[id] : now);
      const x0 = left + Math.max(0, (e.start_ms - (now - span)) / span) * w;
      const x1 = left + Math.max(0, (end - (now - span)) / span) * w;
      if (x1 > x0) { ctx.fillStyle = COLOUR[lampOf(e.state)]; ctx.fillRect(x0, y, x1 - x0, rowH - 3); }
    });
  });
  ctx.fillStyle = "#b0bec5"; ctx.fillText("−5 min", left, cv.height - 2); ctx.fillText("now", cv.width - 28, cv.height - 2);
}

// --- frames ----------------------------------------------------------------------------------
function applyFrame(f, ws) {
  if (!f.snapshot && S.n !== null && f.n !== S.n + 1) { ws.close(); return; }  // missed one: start over
  S.n = f.n; S.frames += 1; S.skew = Date.now() - f.t;
  if (f.snapshot) { S.spat = {}; S.vehicles = {}; S.devices = {}; S.stale = {}; }
  const ixs = new Set();
  if (f.maps) for (const [id, m] of Object.entries(f.maps)) { S.maps[id] = m; ixs.add(id); }
  if (f.spat) for (const [id, sp] of Object.entries(f.spat)) { S.spat[id] = sp; pushHistory(id, sp); ixs.add(id); }
  if (f.stale) { for (const id of new Set([...Object.keys(S.stale), ...Object.keys(f.stale)])) ixs.add(id); S.stale = f.stale; }
  if (f.vehicles) for (const [id, v] of Object.entries(f.vehicles)) { S.vehicles[id] = v; drawBus(id); }
  if (f.devices) { for (const [id, d] of Object.entries(f.devices)) S.devices[id] = Object.assign(S.devices[id] || {}, d); renderDevices(); }
  for (const id of ixs) drawIx(id);
  if (f.snapshot && !S.fittedAll) { map.fit(S.network); S.fittedAll = true; }  // once: keep the user's view
  if (f.vehicles) renderBuses();
  if (f.alarms || f.snapshot) alarms.refreshSoon();
  if (ixs.size) { renderIxTable(); if (ixs.has(S.selected)) renderSelected(); }
}
function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/live`);
  ws.onopen = () => { $("conn").textContent = "live"; $("conn").className = "conn up"; };
  ws.onmessage = (ev) => applyFrame(JSON.parse(ev.data), ws);
  ws.onclose = () => { S.n = null; $("conn").textContent = "reconnecting…"; $("conn").className = "conn down"; setTimeout(connect, 1000); };
}

async function loadHealth() {
  try {
    const r = await fetch("/api/v1/intersections/health");
    if (r.ok) { S.health = {}; for (const h of await r.json()) S.health[h.intersection_id] = h; renderIxTable(); renderSelected(); }
  } catch (e) { /* next round */ }
}

// --- sign-in ---------------------------------------------------------------------------------
function showRole() {
  const r = role();
  $("signin").hidden = !!r; $("signed-in").hidden = !r;
  $("role").textContent = r ? `signed in: ${r}` : "";
  alarms.render();
}
$("signin").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const input = $("token");
  try { await signIn(input.value.trim()); input.value = ""; input.removeAttribute("aria-invalid"); }
  catch (e) { input.setAttribute("aria-invalid", "true"); $("signin-help").textContent = e.message; }
  showRole();
});
$("signout").addEventListener("click", () => { signOut(); showRole(); });

async function init() {
  showRole();
  try { const r = await fetch("/api/v1/dashboard/config"); const c = await r.json(); map.setTiles(c.tiles); S.staleMs = c.spat_stale_ms; }
  catch (e) { map.setTiles(null); }
  try { const r = await fetch("/api/v1/network"); S.network = await r.json(); map.drawNetwork(S.network); } catch (e) { S.network = null; }
  alarms.load(); loadHealth(); connect();
  setInterval(loadHealth, 5000);
  setInterval(() => {
    $("clock").textContent = new Date(hubNow()).toLocaleTimeString("de-DE");
    renderSelected(); drawDiagram();
    // only the counting ages: re-rendering the table would take the keyboard focus away
    for (const td of document.querySelectorAll("#ix-table td.stale-age")) {
      const since = S.stale[td.parentElement.dataset.ix];
      if (since != null) td.textContent = fmtAge(hubNow() - since);
    }
  }, 500);
}
init();
