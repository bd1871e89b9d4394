// A stop field: an ARIA 1.2 combobox over the network's stop names, searched in the browser
// (the hub never learns what a passenger types). Arrow keys move through the suggestions,
// Enter picks one, Escape closes the list; the count of suggestions is announced. A stop
// served by several platforms of the same name is told apart by its lines.

import { el } from "./app-dom.js";
import { t } from "./app-i18n.js";

const MAX = 8;
const fold = (text) => text.toLocaleLowerCase("de").normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/ß/g, "ss");

export function label(stop) {
  return stop.lines.size ? `${stop.name} (${t("lines", [...stop.lines].sort().join(", "))})` : stop.name;
}

// the field; ``chosen`` is {place, name} of an earlier search. The input carries the choice in
// ``dataset.place`` ("stop:ID" or "lat,lon") and ``dataset.name``.
export function stopField(id, labelText, stops, chosen = null, extra = null) {
  const list = el("ul", { id: `${id}-liste`, role: "listbox", class: "vorschlaege", "aria-label": labelText, hidden: true });
  const status = el("p", { class: "versteckt", "aria-live": "polite", id: `${id}-status` });
  const input = el("input", {
    id, name: id, type: "text", role: "combobox", autocomplete: "off", spellcheck: "false",
    "aria-autocomplete": "list", "aria-expanded": "false", "aria-controls": list.id,
    "aria-describedby": `${id}-hinweis`, value: chosen?.name || "",
  });
  if (chosen) Object.assign(input.dataset, chosen);
  let shown = [];
  let active = -1;

  const close = () => {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  };
  const choose = (stop) => {
    input.value = stop.name;
    input.dataset.place = `stop:${stop.id}`;
    input.dataset.name = stop.name;
    close();
  };
  const mark = (n) => {
    active = n;
    for (const [i, option] of [...list.children].entries()) option.setAttribute("aria-selected", String(i === n));
    if (n >= 0) {
      input.setAttribute("aria-activedescendant", `${id}-opt-${n}`);
      list.children[n].scrollIntoView({ block: "nearest" });
    } else input.removeAttribute("aria-activedescendant");
  };
  const update = () => {
    const query = fold(input.value.trim());
    if (input.dataset.name !== input.value) { delete input.dataset.place; delete input.dataset.name; }
    if (!query) { close(); status.textContent = ""; return; }
    const starts = [], contains = [];
    for (const s of stops) {
      const name = fold(s.name);
      if (name.startsWith(query)) starts.push(s);
      else if (name.includes(query)) contains.push(s);
    }
    shown = [...starts, ...contains].slice(0, MAX);
    list.replaceChildren(...shown.map((s, n) => el("li", {
      id: `${id}-opt-${n}`, role: "option", "aria-selected": "false",
      onmousedown: (event) => event.preventDefault(), // keep the focus in the field
      onclick: () => { choose(s); input.focus(); },
    }, label(s))));
    list.hidden = shown.length === 0;
    input.setAttribute("aria-expanded", String(shown.length > 0));
    active = -1;
    status.textContent = shown.length ? t("suggestions", shown.length) : t("noSuggestions");
  };

  input.addEventListener("input", update);
  // closed when the focus has left for good (a click on a suggestion blurs the field first)
  input.addEventListener("blur", () => window.setTimeout(() => {
    if (document.activeElement !== input) close();
  }, 150));
  input.addEventListener("keydown", (event) => {
    const open = !list.hidden;
    if (event.key === "ArrowDown") {
      event.preventDefault();
      if (!open) update();
      if (shown.length) mark(Math.min(active + 1, shown.length - 1));
    } else if (event.key === "ArrowUp" && open) {
      event.preventDefault();
      mark(Math.max(active - 1, 0));
    } else if (event.key === "Enter" && open && active >= 0) {
      event.preventDefault(); // picks the suggestion; the next Enter sends the form
      choose(shown[active]);
    } else if (event.key === "Escape" && open) {
      event.preventDefault();
      close();
    }
  });

  return el("div", { class: "feld", id: `${id}-feld` },
    el("label", { for: id, text: labelText }),
    el("p", { class: "hinweistext", id: `${id}-hinweis`, text: t("stopHint") }),
    el("div", { class: "combo" }, input, list), status, extra);
}

// the place a stop field names: its choice, or the one stop whose name was typed in full
export function placeOf(input, stops) {
  if (input.dataset.place) return { place: input.dataset.place, name: input.dataset.name };
  const typed = fold(input.value.trim());
  const exact = stops.filter((s) => fold(s.name) === typed);
  if (exact.length) return { place: `stop:${exact[0].id}`, name: exact[0].name };
  return null;
}
