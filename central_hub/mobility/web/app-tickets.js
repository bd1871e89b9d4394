// Buying a ticket and keeping it: the order (an e-mail, no account; the hub prices the
// journey's bus and tram rides), payment on the provider's hosted page, which sends the
// passenger back to ``#/bookings/{id}``; there the paid booking is confirmed and its signed
// ticket kept on this device, where it shows without network.

import {
  Problem, booking, checkout, createBooking, keepBooking, keepTicket, lastOptions, operate,
  storedBooking, storedTicket, storedTickets, ticket,
} from "./app-api.js";
import { clearProblems, el, field, problemBox, reportProblems, show } from "./app-dom.js";
import { clock, money, moment, t } from "./app-i18n.js";
import { lineName, summary } from "./app-plan.js";

const facts = (pairs) => el("dl", { class: "fakten" }, ...pairs.filter(([, v]) => v)
  .flatMap(([term, value]) => [el("dt", { text: term }), el("dd", {}, value)]));

// the rides as the passenger saw them (the ticket names stops by id only)
function journeyOf(it) {
  return it.legs.filter((leg) => leg.trip_id).map((leg) => ({
    line: lineName(leg), from: leg.from.name, to: leg.to.name, dep: leg.from.time, arr: leg.to.time }));
}

const rideText = (r) => `${r.line}: ${clock(r.dep)} ${r.from} → ${clock(r.arr)} ${r.to}`;

// one key per journey and tab: sending the order again (a lost answer) books it once
function idempotencyKey(legs) {
  const name = `kassel-app.schluessel.${legs.map((l) => `${l.trip_id}@${l.departure}`).join(",")}`;
  let key = sessionStorage.getItem(name);
  if (!key) {
    key = crypto.randomUUID();
    sessionStorage.setItem(name, key);
  }
  return key;
}

export function bookView(index) {
  const it = lastOptions()?.itineraries?.[Number(index)];
  if (!it) {
    show(t("bookTitle"), [el("p", { text: t("bookGone") }), el("p", {}, el("a", { href: "#/", text: t("toStart") }))]);
    return;
  }
  const legs = it.legs.filter((leg) => leg.trip_id).map((leg) => ({
    trip_id: leg.trip_id, route_id: leg.route_id, from_stop_id: leg.from.stop_id,
    to_stop_id: leg.to.stop_id, departure: leg.from.time, arrival: leg.to.time }));
  if (!legs.length) {
    show(t("bookTitle"), [el("p", { text: t("bookNothing") })]);
    return;
  }
  const journey = journeyOf(it);
  const email = el("input", { id: "email", name: "email", type: "email", autocomplete: "email", spellcheck: "false" });
  const form = el("form", { class: "planen", novalidate: true },
    field("email", t("email"), email, t("emailHint")),
    el("button", { type: "submit", class: "haupt", text: t("bookSubmit") }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const address = email.value.trim();
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(address)) {
      reportProblems(form, [{ field: "email", text: t("errEmail") }]);
      return;
    }
    clearProblems(form);
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const created = await createBooking({ legs, email: address }, idempotencyKey(legs));
      if (created.token) keepBooking(created.id, { token: created.token, journey });
      location.hash = `#/bookings/${encodeURIComponent(created.id)}`;
    } catch (error) {
      if (!(error instanceof Problem)) throw error;
      reportProblems(form, [/e-mail/.test(error.detail) ? { field: "email", text: t("errEmail") }
        : { text: t("errRejected", error.detail || error.message) }]);
    } finally {
      button.disabled = false;
    }
  });
  show(t("bookTitle"), [
    el("p", { text: t("bookIntro") }), summary(it),
    el("ul", { class: "fahrten" }, ...journey.map((r) => el("li", { text: rideText(r) }))),
    form]);
}

// after the provider: wait (briefly) for its word that the payment arrived, confirm, fetch the
// ticket and keep it
async function settle(id, record, status) {
  for (let tries = 0; tries < 20 && record.state === "PENDING" && record.payment === "CHECKOUT_OPEN"; tries++) {
    status.textContent = t("payWaiting");
    await new Promise((resolve) => window.setTimeout(resolve, 1000));
    record = await booking(id);
  }
  if (record.state === "PENDING" && record.payment === "PAID") {
    status.textContent = t("issuing");
    record = await operate(id, "COMMIT");
  }
  if (record.state === "CONFIRMED" && record.ticket) {
    const signed = await ticket(id);
    keepTicket(id, signed, storedBooking(id)?.journey || []);
    location.replace(`#/tickets/${encodeURIComponent(id)}`);
    return null;
  }
  return record;
}

export async function bookingView(id, params) {
  if (!storedBooking(id)) {
    if (storedTicket(id)) { location.replace(`#/tickets/${encodeURIComponent(id)}`); return; }
    show(t("bookingTitle"), [el("p", { text: t("bookingUnknown") }), el("p", {}, el("a", { href: "#/tickets", text: t("ticketsTitle") }))]);
    return;
  }
  const cancelled = params.get("checkout") === "cancelled";
  const status = el("p", { role: "status" });
  show(t("bookingTitle"), [status]);
  let record;
  try {
    record = await booking(id);
    if (!cancelled) record = await settle(id, record, status);
  } catch (error) {
    show(t("bookingTitle"), [problemBox(error.message)]);
    return;
  }
  if (!record) return;
  const journey = storedBooking(id).journey || [];
  const actions = el("p", { class: "aktionen" });
  if (record.state === "PENDING" && record.payment !== "PAID") {
    const price = money(record.price.amount, record.price.currency);
    actions.append(el("button", { type: "button", class: "haupt", text: t("pay", price), onclick: async (event) => {
      event.target.disabled = true;
      try {
        const { checkout_url: url } = await checkout(id);
        location.assign(url); // the provider's hosted page; it sends the passenger back here
      } catch (error) {
        event.target.disabled = false;
        status.textContent = error.message;
      }
    } }), " ", el("button", { type: "button", class: "leise", text: t("cancelBooking"), onclick: async () => {
      try {
        await operate(id, "CANCEL");
        bookingView(id, new URLSearchParams());
      } catch (error) {
        status.textContent = error.message;
      }
    } }));
  }
  show(t("bookingTitle"), [
    cancelled ? el("div", { class: "hinweis", role: "status" }, el("p", { text: t("payCancelled") })) : null,
    facts([[t("bookingNo"), record.id], [t("state"), t("states")[record.state] || record.state],
      [t("payment"), t("payments")[record.payment] || record.payment],
      [t("price"), money(record.price.amount, record.price.currency)],
      [t("holdUntil"), record.state === "PENDING" ? moment(record.expires_at) : ""]]),
    el("ul", { class: "fahrten" }, ...journey.map((r) => el("li", { text: rideText(r) }))),
    status, actions]);
}

// -- tickets on this device -------------------------------------------------------------------

export function ticketsView() {
  const all = storedTickets();
  show(t("ticketsTitle"), [
    el("p", { text: t("ticketsNote") }),
    all.length ? el("ul", { class: "liste" }, ...all.map((s) => el("li", {},
      el("a", { href: `#/tickets/${encodeURIComponent(s.id)}`, text: `${moment(s.ticket.valid_from)} – ${s.ticket.products.map((p) => p.name).join(", ")}` }))))
      : el("p", { text: t("ticketsNone") })]);
}

// a pattern of the signature's bits for the inspector's eye, beside the text it is made of
function pattern(signature) {
  const NS = "http://www.w3.org/2000/svg";
  const bits = [...atob(signature.replace(/-/g, "+").replace(/_/g, "/"))].flatMap((c) =>
    [...Array(8).keys()].map((b) => (c.charCodeAt(0) >> b) & 1));
  const size = 16;
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${size} ${size}`);
  svg.setAttribute("class", "muster");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", t("codeImage"));
  for (let n = 0; n < size * size; n++) {
    if (!bits[n % bits.length]) continue;
    const cell = document.createElementNS(NS, "rect");
    cell.setAttribute("x", String(n % size));
    cell.setAttribute("y", String(Math.floor(n / size)));
    cell.setAttribute("width", "1");
    cell.setAttribute("height", "1");
    svg.append(cell);
  }
  return svg;
}

export function ticketView(id) {
  const kept = storedTicket(id);
  if (!kept) {
    show(t("ticketTitle"), [el("p", { text: t("ticketsNone") }), el("p", {}, el("a", { href: "#/tickets", text: t("ticketsTitle") }))]);
    return;
  }
  const data = kept.ticket;
  const price = money((data.amount_minor / 100).toFixed(2), data.currency);
  show(t("ticketTitle"), [
    el("p", { class: "meta", text: t("stored") }),
    el("div", { class: "fahrschein" },
      facts([[t("product"), data.products.map((p) => p.name).join(", ")],
        [t("journey"), kept.journey.length ? el("ul", {}, ...kept.journey.map((r) => el("li", { text: rideText(r) }))) : ""],
        [t("validFrom"), moment(data.valid_from)], [t("validUntil"), moment(data.valid_until)],
        [t("price"), price], [t("bookingNo"), data.booking_id]]),
      el("h2", { id: "code-titel", text: t("code") }),
      pattern(kept.signature),
      el("p", { class: "meta", id: "code-hinweis", text: t("codeHint") }),
      el("div", { class: "breit", role: "region", tabindex: "0", "aria-labelledby": "code-titel", "aria-describedby": "code-hinweis" },
        el("pre", { class: "code", text: `${kept.key_id}.${kept.payload}.${kept.signature}` }))),
    el("p", {}, el("a", { href: "#/tickets", text: t("ticketsTitle") }))]);
}
