// Building the views: elements (every string from the hub set as text, never as HTML), one h1
// per view that takes the focus, GOV.UK's error summary and errors next to their fields, and
// one polite live region for what changes without the passenger's doing.

import { t } from "./app-i18n.js";

const main = () => document.getElementById("inhalt");

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

// text only a screen reader reads
export const hidden = (text) => el("span", { class: "versteckt", text });

let focusViews = true;
// whether the views shown next take the focus: not when a view is redrawn in place (the
// language switch keeps the focus on the switch)
export function focusOnShow(value) {
  focusViews = value;
}

// a view: its title in the tab and as the h1, which takes the focus (a screen reader starts
// reading there)
export function show(title, content, { focus = true } = {}) {
  document.title = `${title} – ${t("appName")}`;
  const heading = el("h1", { tabindex: "-1", text: title });
  main().replaceChildren(heading, ...content.flat().filter((c) => c !== null && c !== undefined && c !== false));
  if (focus && focusViews) heading.focus();
  return heading;
}

// a message for screen readers that the page does not otherwise say (a live update)
export function announce(text) {
  const region = document.getElementById("ansage");
  region.textContent = "";
  window.setTimeout(() => { region.textContent = text; }, 50);
}

// a form field: label, hint, the error (if any) between them and the control, as GOV.UK
export function field(id, label, control, hint = "") {
  const hintNode = hint ? el("p", { class: "hinweistext", id: `${id}-hinweis`, text: hint }) : null;
  if (hint) control.setAttribute("aria-describedby", `${id}-hinweis`);
  return el("div", { class: "feld", id: `${id}-feld` }, el("label", { for: id, text: label }), hintNode, control);
}

// show the problems: each next to its field and all in a summary at the top, which takes the
// focus; each summary entry is a link that moves the focus to its field
export function reportProblems(form, problems) {
  clearProblems(form);
  for (const p of problems) {
    const box = p.field && document.getElementById(`${p.field}-feld`);
    if (!box) continue;
    box.classList.add("mit-fehler");
    const message = el("p", { class: "feldfehler", id: `${p.field}-fehler` }, hidden(`${t("problemTitle")}: `), p.text);
    const control = document.getElementById(p.field);
    box.querySelector("label, legend").after(message);
    if (control) {
      control.setAttribute("aria-invalid", "true");
      const described = (control.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
      control.setAttribute("aria-describedby", [`${p.field}-fehler`, ...described].join(" "));
    }
  }
  const summary = el("div", { class: "fehler", role: "alert", tabindex: "-1", "aria-labelledby": "fehler-titel" },
    el("h2", { id: "fehler-titel", text: t("problemTitle") }),
    el("ul", {}, ...problems.map((p) => el("li", {}, p.field
      ? el("a", { href: `#${p.field}`, text: p.text, onclick: (event) => {
        event.preventDefault(); // the hash is the router's: move the focus instead
        document.getElementById(p.field)?.focus();
      } })
      : p.text))));
  main().querySelector("h1").after(summary);
  summary.focus();
}

export function clearProblems(form) {
  main().querySelector(".fehler")?.remove();
  for (const box of form.querySelectorAll(".mit-fehler")) box.classList.remove("mit-fehler");
  for (const message of form.querySelectorAll(".feldfehler")) message.remove();
  for (const control of form.querySelectorAll("[aria-invalid]")) {
    control.removeAttribute("aria-invalid");
    const rest = (control.getAttribute("aria-describedby") || "").split(" ").filter((id) => id && !id.endsWith("-fehler"));
    if (rest.length) control.setAttribute("aria-describedby", rest.join(" "));
    else control.removeAttribute("aria-describedby");
  }
}

// a problem that is not about a field: the summary alone
export function problemBox(text) {
  return el("div", { class: "fehler", role: "alert" }, el("h2", { text: t("problemTitle") }), el("p", { text }));
}
