// The map: a Leaflet map whose base layer is either the configured tile source or, by default,
// the network the hub knows (GTFS shapes and stops), drawn locally: no request leaves the hub.
// Intersections are a ring of small squares, one per signal group, placed by approach.
import { lampOf, LAMP_NAME, DEGRADED } from "./signals.js";

const L = window.L;
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const SIDE = { N: "n", S: "s", E: "e", W: "w", NE: "n", NW: "w", SE: "e", SW: "s" };

export class NetworkMap {
  constructor(el, onSelect) {
    this.map = L.map(el, { zoomSnap: 0.25, preferCanvas: false, attributionControl: true });
    this.map.attributionControl.setPrefix("Leaflet");
    this.onSelect = onSelect;
    this.ix = {}; this.bus = {}; this.fitted = false;
    this.layers = { network: L.layerGroup().addTo(this.map), ix: L.layerGroup().addTo(this.map),
      bus: L.layerGroup().addTo(this.map) };
    this.map.setView([51.3155, 9.4900], 13);
    // Leaflet measures its box once; the page's layout may settle later (fonts, tables)
    new ResizeObserver(() => this.map.invalidateSize()).observe(el);
  }
  setTiles(tiles) {
    if (!tiles) { this.map.attributionControl.addAttribution("base map: the hub's GTFS network"); return; }
    L.tileLayer(tiles.url, { attribution: esc(tiles.attribution), maxZoom: tiles.max_zoom }).addTo(this.map);
    this.map.getContainer().classList.add("tiled");
  }
  drawNetwork(net) {
    const g = this.layers.network; g.clearLayers();
    if (!net) return;
    for (const r of net.routes) for (const sh of r.shapes) {
      L.polyline(sh, { color: "#0b0e12", weight: 9, opacity: 0.9, interactive: false }).addTo(g);
      L.polyline(sh, { color: "#" + (r.color || "90a4ae"), weight: 4, opacity: 0.85 })
        .bindTooltip(`line ${esc(r.short_name || r.route_id)}`, { sticky: true }).addTo(g);
    }
    for (const s of net.stops) {
      L.circleMarker([s.lat, s.lon], { radius: 3, color: "#cfd8dc", weight: 1, fillColor: "#263238", fillOpacity: 1 })
        .bindTooltip(esc(s.name)).addTo(g);
    }
    this.fit(net);
  }
  fit(net) {
    const pts = [];
    if (net) { for (const r of net.routes) for (const sh of r.shapes) pts.push(...sh); for (const s of net.stops) pts.push([s.lat, s.lon]); }
    for (const m of Object.values(this.ix)) pts.push(m.getLatLng());
    this.map.invalidateSize();
    if (pts.length) { this.map.fitBounds(L.latLngBounds(pts).pad(0.05)); this.fitted = true; }
  }
  /** An intersection's icon: its name and one square per signal group, by approach. */
  ixIcon(id, map, spat, stale, selected) {
    const groups = spat ? spat.groups : [];
    const approach = {}; for (const mg of (map && map.groups) || []) approach[mg.sg] = mg.approach;
    const sides = { n: [], e: [], s: [], w: [], c: [] };
    for (const g of groups) {
      const lamp = lampOf(g.state);
      sides[SIDE[(approach[g.sg] || "").toUpperCase()] || "c"].push(
        `<i class="sg sg-${lamp}" data-sg="${esc(g.sg)}" data-lamp="${lamp}" title="${esc(g.sg)}: ${LAMP_NAME[lamp]}"></i>`);
    }
    const cls = ["ix", stale ? "stale" : "", spat && DEGRADED.has(spat.status) ? "degraded" : "", selected ? "sel" : ""].join(" ");
    const name = map ? map.name : id;
    const html = `<div class="${cls}" data-ix="${esc(id)}" data-stale="${stale ? 1 : 0}">` +
      `<span class="side n">${sides.n.join("")}</span><span class="side w">${sides.w.join("")}</span>` +
      `<span class="core">${sides.c.join("")}</span><span class="side e">${sides.e.join("")}</span>` +
      `<span class="side s">${sides.s.join("")}</span>` +
      `<span class="lbl">${esc(name)}${stale ? " · no SPaT" : ""}</span></div>`;
    return L.divIcon({ html, className: "ix-icon", iconSize: [44, 44], iconAnchor: [22, 22] });
  }
  setIntersection(id, map, spat, stale, selected) {
    if (!map) return;
    const icon = this.ixIcon(id, map, spat, stale, selected);
    let m = this.ix[id];
    if (!m) {
      m = L.marker([map.lat, map.lon], { icon, keyboard: true, title: map.name, alt: map.name,
        riseOnHover: true, zIndexOffset: 500 }).addTo(this.layers.ix);
      m.on("click", () => this.onSelect(id));
      m.on("keypress", (ev) => { if (ev.originalEvent.key === "Enter") this.onSelect(id); });
      this.ix[id] = m;
      if (!this.fitted) this.fit(null);
    } else {
      m.setLatLng([map.lat, map.lon]); m.setIcon(icon);
    }
    if (selected) m.setZIndexOffset(1000); else m.setZIndexOffset(500);
  }
  focus(id) { const m = this.ix[id]; if (m) this.map.panTo(m.getLatLng()); }
  setBus(id, v, klass, label) {
    if (!v.position) return;
    const ll = [v.position.lat, v.position.lon];
    const occ = v.occupancy ? v.occupancy.occupancy_status : "";
    const html = `<div class="bus ${klass}${v.online === false ? " offline" : ""}" data-vehicle="${esc(id)}" ` +
      `data-punctuality="${klass}" data-occupancy="${esc(occ)}">${esc(label)}</div>`;
    // the tag sits above and right of the bus's position (a dot marks it), clear of a junction
    const icon = L.divIcon({ html, className: "bus-icon", iconSize: null, iconAnchor: [-4, 22] });
    let m = this.bus[id];
    if (!m) { m = L.marker(ll, { icon, keyboard: false, zIndexOffset: 2000 }).addTo(this.layers.bus); this.bus[id] = m; }
    else { m.setLatLng(ll); m.setIcon(icon); }
    const occText = v.occupancy ? ` · ${v.occupancy.occupancy_percentage} % full` : "";
    m.bindTooltip(`bus ${esc(id)} · line ${esc(v.position.route_id || "?")}${occText}`);
  }
  panToBus(id) { const m = this.bus[id]; if (m) this.map.panTo(m.getLatLng()); }
}
