// Alarm list: critical first, then newest; filters by severity, kind and device; acknowledge.
import { authFetch, role } from "./auth.js";

const RANK = { critical: 0, warning: 1 };
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

/** Sorted copy: severity rank, then raised time newest first, then id. */
export function sortAlarms(list) {
  return [...list].sort((a, b) => (RANK[a.severity] ?? 9) - (RANK[b.severity] ?? 9)
    || b.raised_ms - a.raised_ms || b.id - a.id);
}

export function filterAlarms(list, f) {
  return list.filter((a) => (!f.severity || a.severity === f.severity) && (!f.kind || a.kind === f.kind)
    && (!f.device || a.device_id === f.device) && (f.acked || !a.acked_ms));
}

function fillSelect(sel, values) {
  const keep = sel.value;
  const opts = ['<option value="">all</option>', ...[...values].sort().map((v) => `<option>${esc(v)}</option>`)];
  sel.innerHTML = opts.join("");
  if ([...values].includes(keep)) sel.value = keep;
}

export class AlarmPanel {
  constructor(root) {
    this.list = []; this.root = root;
    this.f = { severity: root.querySelector("#f-severity"), kind: root.querySelector("#f-kind"),
      device: root.querySelector("#f-device"), acked: root.querySelector("#f-acked") };
    for (const el of Object.values(this.f)) el.addEventListener("change", () => this.render());
    this.ul = root.querySelector("#alarms");
    this.ul.addEventListener("click", (ev) => {
      const b = ev.target.closest("button[data-ack]");
      if (b) this.ack(Number(b.dataset.ack), b);
    });
    this.timer = null;
  }
  refreshSoon() {
    if (this.timer) return;
    this.timer = setTimeout(() => { this.timer = null; this.load(); }, 300);
  }
  async load() {
    try {
      const r = await fetch("/api/v1/alarms?state=open&limit=500");
      if (r.ok) { this.list = await r.json(); this.render(); }
    } catch (e) { /* retried on the next alarm frame */ }
  }
  filters() {
    return { severity: this.f.severity.value, kind: this.f.kind.value, device: this.f.device.value,
      acked: this.f.acked.checked };
  }
  render() {
    fillSelect(this.f.kind, new Set(this.list.map((a) => a.kind)));
    fillSelect(this.f.device, new Set(this.list.map((a) => a.device_id)));
    const shown = sortAlarms(filterAlarms(this.list, this.filters()));
    const unacked = this.list.filter((a) => !a.acked_ms).length;
    this.root.querySelector("#alarm-count").textContent = `${unacked} / ${this.list.length}`;
    this.root.querySelector("#alarm-count").title = "unacknowledged / open";
    const canAck = !!role();
    this.ul.innerHTML = shown.map((a) => {
      const t = new Date(a.raised_ms).toLocaleTimeString("de-DE");
      const ack = a.acked_ms
        ? `<span class="acked-by">acknowledged by ${esc(a.acked_by || "?")} ${new Date(a.acked_ms).toLocaleTimeString("de-DE")}</span>`
        : a.id > 0 ? `<button type="button" data-ack="${a.id}" ${canAck ? "" : "disabled title=\"sign in with an operator token\""}>Acknowledge</button>` : "";
      return `<li class="alarm ${esc(a.severity)}${a.acked_ms ? " acked" : ""}" data-id="${a.id}" data-kind="${esc(a.kind)}" ` +
        `data-device="${esc(a.device_id)}" data-severity="${esc(a.severity)}">` +
        `<span class="sev">${esc(a.severity)}</span> <time>${t}</time> <b>${esc(a.device_id)}</b> ` +
        `<span class="kind">${esc(a.kind)}</span><br>${esc(a.message)} ${ack}</li>`;
    }).join("") || '<li class="none">no open alarms match</li>';
  }
  async ack(id, button) {
    const err = this.root.querySelector("#ack-error");
    button.disabled = true;
    const r = await authFetch(`/api/v1/alarms/${id}/ack`, { method: "POST" });
    if (r.ok) {
      const rec = await r.json();
      this.list = this.list.map((a) => (a.id === id ? rec : a));
      err.hidden = true; this.render();
    } else {
      err.textContent = r.status === 401 || r.status === 403
        ? "acknowledging needs an engineer token: sign in above" : `acknowledge failed (${r.status})`;
      err.hidden = false; button.disabled = false;
    }
  }
}
