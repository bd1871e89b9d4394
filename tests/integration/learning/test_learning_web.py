"""The pupils' pages at ``/lernen/`` in headless Chromium against a real hub: find an item,
answer a choice, an input, an ordering, a matching and a cloze with the keyboard alone, and
see the hub's verdict; nothing is loaded from outside the hub, no script error."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from tests.integration.central_hub.helpers import CHROMIUM, CHROMIUM_ARGS, HubServer, wait_for


def submit_by_keyboard(page: Page, form: str) -> str:
    """Tab to the form's check button, press Enter, and read the verdict."""
    button = page.locator(f"{form} button[type=submit]")
    for _ in range(40):
        if button.evaluate("b => b === document.activeElement"):
            break
        page.keyboard.press("Tab")
    else:
        raise AssertionError("the check button was not reached by Tab")
    page.keyboard.press("Enter")
    verdict = page.locator(f"{form} .rueckmeldung")
    verdict.filter(has_not_text="Wird geprüft").wait_for()
    # polled from here: the pages' policy forbids the eval a waiting function polls with
    def answered() -> bool:
        text = verdict.text_content() or ""
        return bool(text) and "Wird geprüft" not in text

    wait_for(answered, what="the verdict")
    return str(verdict.text_content())


def test_pupils_play_every_exercise_type_by_keyboard(hub: HubServer) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 360, "height": 800})  # a small phone
        errors: list[str] = []
        requests: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("request", lambda r: requests.append(r.url))
        response = page.goto(hub.url + "/lernen/")
        assert response is not None and response.ok
        assert response.headers["content-security-policy"].startswith("default-src 'none'")
        page.get_by_role("link", name="Mathematik").wait_for()

        # a subject at a grade: its items by topic
        page.goto(hub.url + "/lernen/#/fach/mathematik?stufe=6")
        page.get_by_role("heading", name="Bruchrechnung").wait_for()
        assert page.locator("main h2").all_inner_texts() == ["Bruchrechnung", "Dezimalzahlen",
                                                             "Teilbarkeit"]

        # search with the keyboard
        page.get_by_label("Suchen").focus()
        page.keyboard.type("Dezimalzahlen")
        page.keyboard.press("Enter")
        # narrowed to a subject and grade where the word does not occur: nothing
        page.get_by_label("Fach").select_option("deutsch")
        page.get_by_role("button", name="Eingrenzen").click()
        page.get_by_text("0 Treffer").wait_for()
        page.get_by_label("Fach").select_option("mathematik")
        page.get_by_label("Klassenstufe").select_option("6")
        page.get_by_role("button", name="Eingrenzen").click()
        wait_for(lambda: "fach=mathematik" in page.evaluate("location.hash"), what="the filter")
        page.get_by_role("link", name="Dezimalzahlen").first.click()
        first = "form[aria-labelledby='mathe-dezimalzahlen.d1-titel']"
        page.locator(first).wait_for()
        page.locator(f"{first} input[type=text]").focus()
        page.keyboard.type("6.150")  # a teacher accepts the point and the trailing zero
        assert submit_by_keyboard(page, first) == "Richtig!"

        # a single choice: arrow keys move between the radio buttons
        page.goto(hub.url + "/lernen/#/items/deutsch-wortarten")
        choice = page.locator("form:has(input[type=radio])").first
        choice.wait_for()
        form = f"form[aria-labelledby='{choice.get_attribute('aria-labelledby')}']"
        page.locator(f"{form} input[type=radio]").first.focus()
        page.keyboard.press("Space")
        verdict = submit_by_keyboard(page, form)
        assert verdict  # right or wrong, the hub answered

        # an ordering: the buttons move items; the hub judges the order
        page.goto(hub.url + "/lernen/#/items/mathe-dezimalzahlen")
        ordering = "form[aria-labelledby='mathe-dezimalzahlen.d6-titel']"
        page.locator(ordering).wait_for()
        page.locator(f"{ordering} li button").first.focus()
        page.keyboard.press("Enter")
        assert submit_by_keyboard(page, ordering)

        # a matching: one select per left side, chosen with the keyboard
        matching = "form[aria-labelledby='mathe-dezimalzahlen.d7-titel']"
        selects = page.locator(f"{matching} select")
        for n in range(selects.count()):
            selects.nth(n).focus()
            page.keyboard.press("ArrowDown")
        assert submit_by_keyboard(page, matching)

        # a cloze: the gaps are text fields in the prompt
        page.goto(hub.url + "/lernen/#/items/deutsch-zeitformen")
        cloze = page.locator("form:has(input[aria-label^='Lücke'])").first
        cloze.wait_for()
        form = f"form[aria-labelledby='{cloze.get_attribute('aria-labelledby')}']"
        page.locator(f"{form} input[aria-label^='Lücke']").first.focus()
        page.keyboard.type("xyz")
        assert "Lücke" in submit_by_keyboard(page, form)  # the hub names the wrong gaps
        browser.close()
    assert errors == []
    assert all(url.startswith(hub.url) for url in requests), requests


AXE = Path(__file__).resolve().parents[3] / "node_modules" / "axe-core" / "axe.min.js"
#: every page type: home, a subject at a grade, a search, an explanation, exercise sets with
#: every exercise type (Mathe: typed, ordering, matching; Deutsch: choices, cloze)
PAGES = ["#/", "#/fach/mathematik?stufe=6", "#/suche?q=Brüche",
         "#/items/mathe-erklaerung-binomische-formeln", "#/items/mathe-dezimalzahlen",
         "#/items/deutsch-zeitformen", "#/items/deutsch-wortarten",
         "#/items/englisch-vokabeln-schule-familie", "#/fortschritt"]


def test_axe_finds_no_violation_on_any_page_type(hub: HubServer) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        # axe is injected by the test; the hub's policy would (rightly) refuse inline script
        context = browser.new_context(bypass_csp=True, viewport={"width": 360, "height": 800})
        page = context.new_page()
        found: dict[str, list[str]] = {}
        for path in PAGES:
            page.goto(f"{hub.url}/lernen/{path}")
            page.locator("main h1").wait_for()
            page.wait_for_function("document.querySelector('main h1').textContent !== ''")
            page.add_script_tag(path=str(AXE))
            result = page.evaluate(
                "async () => (await axe.run(document, {runOnly: {type: 'tag', values: "
                "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})).violations"
                ".map(v => v.id + ': ' + v.nodes.length)")
            found[path] = result
        page.goto(f"{hub.url}/lernen/#/items/mathe-brueche-kuerzen-erweitern")
        page.locator("main math").first.wait_for()  # KaTeX typeset the maths as MathML
        browser.close()
    assert found == {path: [] for path in PAGES}
