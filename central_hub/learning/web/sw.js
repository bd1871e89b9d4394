// The pupils' pages offline: this service worker keeps the pages' files and every catalogue
// answer it has seen (subjects, lists, items and their offline rules), so an exercise set once
// opened opens again without the hub. Network first, so a pupil online always sees the
// published revision; the cache only when the hub cannot be reached. Answer checks (POST)
// are never cached: the page judges what it can with the offline rules and queues the rest.

const CACHE = "lernhilfe-v1";
const SHELL = [
  "/lernen/", "/lernen/lernen.css", "/lernen/lernen.js", "/lernen/lernen-seite.js",
  "/lernen/lernen-aufgaben.js", "/lernen/lernen-check.js", "/lernen/lernen-fortschritt.js",
  "/lernen/lernen-klasse.js", "/lernen/lernen-redaktion.js",
  "/static/vendor/katex/dist/katex.mjs", "/static/favicon.svg", "/api/v1/learning/subjects",
];
const KEPT = ["/lernen/", "/static/vendor/katex/", "/static/favicon.svg", "/api/v1/learning/"];

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
    const kept = await cache.match(request, { ignoreVary: true });
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
