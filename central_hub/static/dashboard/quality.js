// Prediction quality of an intersection over the last hour (the "prediction" of
// GET /api/v1/intersections/health, central_hub/domain/prediction.py): the error by how far
// ahead of the switch the prediction was made, the share of switches that kept the published
// bounds, and a reliability diagram: for each claimed confidence, the share of predictions
// that were right within ±1 s. A controller that means what it claims lies on the diagonal.

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const BAND_TEXT = { le10s: "≤ 10 s", "10to30s": "10–30 s", gt30s: "> 30 s" };
const secs = (s) => (s == null ? "–" : `${s.toFixed(1)} s`);
const pct = (v) => (v == null ? "–" : `${Math.round(v)} %`);
const near = (p) => p.bands.find((b) => b.band === "le10s");

// the table cell: the error of predictions made up to 10 s ahead and the bounds kept
export function qualityCell(p) {
  if (!p) return "–";
  const b = near(p);
  return `<span data-quality="le10s">${b && b.rows ? secs(b.mae_s) : "–"}</span> · ${pct(p.within_bounds_pct)} in bounds`;
}

// the selected intersection: every band, the bounds, the usual error and the diagram
export function qualityDetail(p) {
  if (!p) return "no switch scored in the last hour";
  const bands = p.bands.map((b) => `<span data-band="${esc(b.band)}">${BAND_TEXT[b.band] || esc(b.band)} ahead: ` +
    `${b.rows ? secs(b.mae_s) : "–"} <small>(${b.rows})</small></span>`).join(" · ");
  const usual = p.baseline_mae_s != null
    ? `; usual ≤ 10 s error ${secs(p.baseline_mae_s)} <small>(median of ${p.baseline_hours} h)</small>` : "";
  return `<span class="vh">mean error by how far ahead the prediction was made: </span>${bands}<br>` +
    `<span data-testid="bounds">${pct(p.within_bounds_pct)} of ${p.bounded_switches} switches within their bounds</span>` +
    ` <small>(${p.switches} switches, ${p.rows} predictions)</small>${usual}`;
}

// observed share right within ±1 s (y) against mean claimed confidence (x), per bucket
export function reliabilityPlot(buckets) {
  const size = 150, pad = 22, top = 6, span = size - pad - top;
  const x = (c) => pad + (c / 100) * span, y = (o) => top + (1 - o / 100) * span;
  const used = (buckets || []).filter((b) => b.rows > 0);
  const most = Math.max(1, ...used.map((b) => b.rows));
  const grid = [0, 50, 100].map((v) =>
    `<line class="grid" x1="${x(0)}" y1="${y(v)}" x2="${x(100)}" y2="${y(v)}"/>` +
    `<text class="tick" x="${pad - 3}" y="${y(v) + 3}" text-anchor="end">${v}</text>` +
    `<line class="grid" x1="${x(v)}" y1="${y(0)}" x2="${x(v)}" y2="${y(100)}"/>` +
    `<text class="tick" x="${x(v)}" y="${size - pad + 10}" text-anchor="middle">${v}</text>`).join("");
  const points = used.map((b) => {
    const r = (2 + 4 * Math.sqrt(b.rows / most)).toFixed(1);
    return `<circle class="pt" data-bucket="${b.lo}" cx="${x(b.mean_confidence).toFixed(1)}" cy="${y(b.observed_pct).toFixed(1)}" r="${r}">` +
      `<title>claimed ${b.lo}–${b.hi} % (mean ${Math.round(b.mean_confidence)} %): ${Math.round(b.observed_pct)} % right within ±1 s, ${b.rows} predictions</title></circle>`;
  }).join("");
  return `<svg class="reliability" data-testid="reliability" viewBox="0 0 ${size} ${size}" width="${size}" height="${size}" role="img" ` +
    `aria-label="reliability: share of predictions right within 1 s against the confidence claimed">` +
    `${grid}<line class="diag" x1="${x(0)}" y1="${y(0)}" x2="${x(100)}" y2="${y(100)}"/>${points}` +
    `<text class="axis" x="${x(50)}" y="${size - 1}" text-anchor="middle">claimed confidence %</text>` +
    `<text class="axis" x="8" y="${y(50)}" text-anchor="middle" transform="rotate(-90 8 ${y(50)})">right within 1 s %</text></svg>`;
}
