// Kassel unterwegs, the passenger app: the router, the language switch, the offline notice and
// the service worker. Plain JS modules, no framework, nothing from outside the hub; each view
// lives in its own module (planning, following, departures, tickets).

import { el, focusOnShow, problemBox, show } from "./app-dom.js";
import { followView } from "./app-follow.js";
import { lang, setLang, t } from "./app-i18n.js";
import { nearbyView, stopBoardView } from "./app-nearby.js";
import { optionsView, planView } from "./app-plan.js";
import { bookView, bookingView, ticketView, ticketsView } from "./app-tickets.js";

const ROUTES = [
  [/^\/?$/, (m, q) => planView(q)],
  [/^\/optionen$/, (m, q) => optionsView(q)],
  [/^\/fahrt\/(\d+)$/, (m) => followView(m[1])],
  [/^\/abfahrten$/, () => nearbyView()],
  [/^\/abfahrten\/([^/]+)$/, (m) => stopBoardView(decodeURIComponent(m[1]))],
  [/^\/buchen\/(\d+)$/, (m) => bookView(m[1])],
  [/^\/bookings\/([^/]+)$/, (m, q) => bookingView(decodeURIComponent(m[1]), q)],
  [/^\/tickets$/, () => ticketsView()],
  [/^\/tickets\/([^/]+)$/, (m) => ticketView(decodeURIComponent(m[1]))],
];

let leave = null; // what the current view stops when the passenger leaves it (a live poll)
let generation = 0;

async function route({ focus = true } = {}) {
  const mine = ++generation;
  if (leave) { leave(); leave = null; }
  focusOnShow(focus);
  const hash = location.hash.replace(/^#/, "");
  const [path, query = ""] = hash.split("?");
  const params = new URLSearchParams(query);
  for (const [pattern, view] of ROUTES) {
    const m = path.match(pattern);
    if (!m) continue;
    try {
      const stop = await view(m, params);
      if (typeof stop === "function") {
        if (mine === generation) leave = stop;
        else stop(); // the passenger moved on while the view was loading
      }
    } catch (error) {
      show(t("problemTitle"), [problemBox(error.message), el("p", {}, el("a", { href: "#/", text: t("toStart") }))]);
    }
    markCurrent(path);
    return;
  }
  show(t("notFound"), [el("p", {}, el("a", { href: "#/", text: t("toStart") }))]);
}

// the navigation link of the section shown carries aria-current
function markCurrent(path) {
  const section = path.startsWith("/abfahrten") ? "#/abfahrten" : path.startsWith("/tickets") || path.startsWith("/bookings") ? "#/tickets" : "#/";
  for (const a of document.querySelectorAll("header nav a")) {
    if (a.getAttribute("href") === section) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

// the page's own words (header, footer) in the chosen language
function translatePage() {
  document.documentElement.lang = lang;
  for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
  const nav = document.querySelector("header nav");
  nav.setAttribute("aria-label", t("navLabel"));
  const button = document.getElementById("sprache");
  const other = lang === "de" ? "en" : "de";
  button.textContent = t("switchLang");
  button.setAttribute("lang", other);
  button.setAttribute("aria-label", t("switchLangLabel"));
}

function offlineNotice() {
  const notice = document.getElementById("offline");
  notice.hidden = navigator.onLine;
  notice.textContent = navigator.onLine ? "" : t("offline");
}

document.getElementById("sprache").addEventListener("click", () => {
  setLang(lang === "de" ? "en" : "de");
  translatePage();
  offlineNotice();
  route({ focus: false }); // the same view in the other language; the focus stays on the switch
});
window.addEventListener("hashchange", () => route());
window.addEventListener("online", offlineNotice);
window.addEventListener("offline", offlineNotice);

translatePage();
offlineNotice();
route();

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch(() => {});
}
