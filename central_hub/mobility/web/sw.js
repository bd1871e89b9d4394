// The passenger app offline: this service worker keeps the app's files (its shell), Leaflet
// and the network the map draws, so the app opens without the hub and a bought ticket (kept
// in the page's localStorage) shows at the ticket inspection in a dead spot. Network first, so
// a passenger online always gets the current release and timetable; the cache only when the
// hub cannot be reached. Journeys, departures, live positions and bookings are never cached:
// they are stale within minutes, and a booking's answers are the passenger's own.

const CACHE = "kassel-unterwegs-v1";
const SHELL = [
  "/app/", "/app/app.css", "/app/app-main.js", "/app/app-i18n.js", "/app/app-dom.js",
  "/app/app-api.js", "/app/app-combobox.js", "/app/app-plan.js", "/app/app-follow.js",
  "/app/app-nearby.js", "/app/app-tickets.js", "/app/manifest.webmanifest", "/app/app-icon.svg",
  "/static/vendor/leaflet/dist/leaflet.js", "/static/vendor/leaflet/dist/leaflet.css",
];
const KEPT = ["/app/", "/static/vendor/leaflet/", "/api/v1/mobility/network", "/api/v1/mobility/app-config"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const answer = await fetch(request);
    if (answer.ok) await cache.put(request, answer.clone());
    return answer;
  } catch (error) {
    const kept = await cache.match(request, { ignoreVary: true, ignoreSearch: request.mode === "navigate" });
    if (kept) return kept;
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (!KEPT.some((prefix) => url.pathname.startsWith(prefix))) return;
  event.respondWith(networkFirst(event.request));
});
