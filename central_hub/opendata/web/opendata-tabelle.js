// A dataset's table on its page: the CSV read as RFC 4180 (quotes, doubled quotes, line
// breaks inside quotes, CRLF), a preview of its first rows with the columns' titles and units
// from datapackage.json, and a bar chart of the main measure per value of the first dimension,
// drawn as SVG (no library) with the same numbers in a table for screen readers.

import { el, number, svg, table } from "./opendata-seite.js";

// RFC 4180: rows of fields; an empty field is "" (a suppressed cell)
export function parseCsv(text) {
  const rows = [];
  let row = [], field = "", quoted = false, i = 0;
  if (text.charCodeAt(0) === 0xfeff) i = 1; // a byte-order mark
  for (; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(field); field = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field); rows.push(row); row = []; field = "";
    } else field += c;
  }
  if (field !== "" || row.length) { row.push(field); rows.push(row); }
  return rows.filter((r) => !(r.length === 1 && r[0] === ""));
}

// the Table Schema fields of the CSV resource, by column name
export function fieldsOf(descriptor) {
  const resource = (descriptor.resources || []).find((r) => r.format === "csv") || (descriptor.resources || [])[0];
  const fields = resource && resource.schema ? resource.schema.fields : [];
  return new Map(fields.map((f) => [f.name, f]));
}

const UNITS = { 1: "Anteil", s: "s", min: "min", MB: "MB", passengers: "Personen" };

// "Mittlere Besetzung (Personen)": the title with its unit
export function heading(name, fields) {
  const f = fields.get(name);
  if (!f) return name;
  const title = f.title || name;
  if (!f.unit || f.unit === "1") return title;
  return `${title} (${UNITS[f.unit] || f.unit})`;
}

export const PREVIEW_ROWS = 20;

export function preview(rows, fields) {
  const [head, ...body] = rows;
  const cells = body.slice(0, PREVIEW_ROWS).map((r) => r.map((v) => (v === "" ? "–" : v)));
  return el("section", { "aria-labelledby": "vorschau-titel" },
    el("h2", { id: "vorschau-titel", text: "Vorschau" }),
    el("p", { class: "meta", text: `Die ersten ${Math.min(PREVIEW_ROWS, body.length)} von ${body.length} Zeilen. „–“: unterdrückt (zu wenige Personen).` }),
    table(`Die ersten ${Math.min(PREVIEW_ROWS, body.length)} Zeilen`, head.map((n) => heading(n, fields)), cells, { rowHeads: false }));
}

export const MAX_BARS = 20;

// the first dimension: the first text column (a line, a stop, a district), else a date
export function dimensionOf(head, fields, measure) {
  const kinds = head.map((n) => [n, (fields.get(n) || {}).type]);
  const text = kinds.find(([n, t]) => n !== measure && t === "string");
  const date = kinds.find(([n, t]) => n !== measure && t === "date");
  return (text || date || [null])[0];
}

// the measure per value of the dimension: people counts (integers) summed, the rest
// (shares, durations, means) averaged; suppressed (empty) cells left out
export function aggregate(rows, dimension, measure, fields) {
  const [head, ...body] = rows;
  const d = head.indexOf(dimension), m = head.indexOf(measure);
  const sum = (fields.get(measure) || {}).type === "integer";
  const groups = new Map();
  let missing = 0;
  for (const r of body) {
    const value = r[m];
    if (value === "" || value === undefined || Number.isNaN(Number(value))) { missing += 1; continue; }
    const g = groups.get(r[d]) || { total: 0, n: 0 };
    g.total += Number(value);
    g.n += 1;
    groups.set(r[d], g);
  }
  let bars = [...groups].map(([label, g]) => ({ label, value: sum ? g.total : g.total / g.n }));
  bars.sort((a, b) => a.label.localeCompare(b.label, "de", { numeric: true }));
  const all = bars.length;
  if (all > MAX_BARS) {
    const kept = new Set([...bars].sort((a, b) => b.value - a.value).slice(0, MAX_BARS));
    bars = bars.filter((b) => kept.has(b));
  }
  return { bars, sum, missing, all };
}

// a horizontal bar chart: role="img" named by its <title> and <desc>
export function chart(rows, fields, measure) {
  const head = rows[0];
  if (!measure || !head.includes(measure)) return null;
  const dimension = dimensionOf(head, fields, measure);
  if (!dimension) return null;
  const { bars, sum, missing, all } = aggregate(rows, dimension, measure, fields);
  if (!bars.length) return null;
  const what = heading(measure, fields), per = heading(dimension, fields);
  const how = sum ? "Summe" : "Mittelwert";
  const title = `${what}: ${how} je ${per}`;
  const max = Math.max(...bars.map((b) => b.value), 0) || 1;
  const label = 190, width = 680, bar = 22, gap = 8, top = 8, right = 90;
  const height = top * 2 + bars.length * (bar + gap);
  const scale = (width - label - right) / max;
  const notes = [`${bars.length} Balken`, all > bars.length ? `die ${bars.length} größten von ${all} Werten` : "",
    missing ? `${missing} unterdrückte Zellen nicht mitgerechnet` : ""].filter(Boolean).join("; ");
  const desc = `${notes}. ` + bars.map((b) => `${b.label}: ${number(b.value)}`).join(", ") + ".";
  const figure = svg("svg", { role: "img", viewBox: `0 0 ${width} ${height}`, class: "diagramm",
    "aria-labelledby": "diagramm-titel", "aria-describedby": "diagramm-beschreibung", preserveAspectRatio: "xMinYMin meet" },
  svg("title", { id: "diagramm-titel", text: title }),
  svg("desc", { id: "diagramm-beschreibung", text: desc }),
  ...bars.map((b, i) => {
    const y = top + i * (bar + gap);
    const w = Math.max(1, b.value * scale);
    return svg("g", { class: "balken" },
      svg("text", { x: label - 8, y: y + bar / 2, class: "achse", "text-anchor": "end", "dominant-baseline": "middle",
        text: b.label.length > 24 ? b.label.slice(0, 23) + "…" : b.label }),
      svg("rect", { x: label, y, width: w.toFixed(1), height: bar, rx: 2 }),
      svg("text", { x: label + w + 6, y: y + bar / 2, class: "wert", "dominant-baseline": "middle", text: number(b.value) }));
  }));
  return el("section", { "aria-labelledby": "diagramm-ueberschrift" },
    el("h2", { id: "diagramm-ueberschrift", text: "Diagramm" }),
    el("figure", {}, figure, el("figcaption", { class: "meta", text: `${title} (${notes}).` })),
    el("details", {}, el("summary", { text: "Die Zahlen des Diagramms als Tabelle" }),
      table(title, [per, `${what} (${how})`], bars.map((b) => [b.label, number(b.value)]))));
}
