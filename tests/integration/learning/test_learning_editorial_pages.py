"""The editorial pages in headless Chromium against a real hub: an author imports a GIFT file
and writes an item as YAML (a failing sample is named), a reviewer takes the queue, reads the
diff and publishes; an author who also reviews is refused for their own item. axe-core finds
no violation on the desk nor on the review view."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

from central_hub.core.identity import Role
from central_hub.core.tokens import TokenStore
from tests.integration.central_hub.helpers import CHROMIUM, CHROMIUM_ARGS, HubServer
from tests.integration.learning.test_learning_authoring import DOCUMENT, GIFT
from tests.integration.learning.test_learning_class_pages import violations


def sign_in(page: Page, url: str, key: str) -> None:
    page.goto(url)
    page.get_by_label("Zugangsschlüssel").fill(key)
    page.get_by_role("button", name="Anmelden").click()
    page.get_by_role("button", name="Abmelden").wait_for()  # the desk, not the sign-in form


def test_volunteers_write_import_and_review_in_the_pages(hub: HubServer, tmp_path: Path) -> None:
    store = TokenStore(hub.hub.engine)
    _, anna = store.issue("anna", {Role.LEARNING_AUTHOR}, expires_days=1)
    _, bernd = store.issue("bernd", {Role.LEARNING_REVIEWER}, expires_days=1)
    _, clara = store.issue("clara", {Role.LEARNING_AUTHOR, Role.LEARNING_REVIEWER},
                           expires_days=1)
    gift = tmp_path / "fragen.gift"
    gift.write_text(GIFT, encoding="utf-8")
    found: dict[str, list[str]] = {}
    desk = f"{hub.url}/lernen/#/redaktion"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        errors: list[str] = []

        def page_for() -> Page:
            page = browser.new_context(bypass_csp=True).new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            return page

        author = page_for()
        author.goto(desk)
        author.get_by_label("Zugangsschlüssel").fill(bernd + "x")
        author.get_by_role("button", name="Anmelden").click()
        author.get_by_text("Dieser Schlüssel gilt nicht.").wait_for()
        sign_in(author, desk, anna)
        found["desk"] = violations(author)
        # import: the file chosen, GIFT, into Mathematik
        author.get_by_label("Datei").set_input_files(str(gift))
        author.get_by_role("button", name="Importieren").click()
        author.get_by_text("Importiert: 7 Fragen").wait_for()
        assert author.get_by_text("Aufsatz: essay").count() == 1
        # write: a YAML item whose sample "45" is wrongly said to be right
        author.get_by_label("Dokument (YAML)").fill(
            DOCUMENT.replace('accept: ["50"]', 'accept: ["50", "45"]'))
        author.get_by_role("button", name="Als Entwurf speichern").click()
        author.get_by_text("Gespeichert: Fassung 1").wait_for()
        assert author.get_by_text("'45' should be accepted").count() == 1
        # a broken document: the hub's reason with its line
        author.get_by_label("Dokument (YAML)").fill("id: x\ntitle: [")
        author.get_by_role("button", name="Als Entwurf speichern").click()
        author.get_by_text("line 2").wait_for()
        # the author mends the failing sample in the review view: a second revision
        author.goto(f"{desk}/zahlen-runden")
        author.get_by_role("heading", name="Zahlen runden").wait_for()
        area = author.get_by_label("Dokument (YAML)")
        area.fill("\n".join(line for line in area.input_value().splitlines()
                             if "45" not in line))
        author.get_by_role("button", name="Als neue Fassung speichern").click()
        author.get_by_text("Gespeichert: Fassung 2").wait_for()
        author.get_by_text("Alle Beispielantworten werden richtig beurteilt.").first.wait_for()

        reviewer = page_for()
        sign_in(reviewer, desk, bernd)
        rows = reviewer.locator("table tbody tr")
        rows.first.wait_for()
        assert rows.count() == 2
        assert rows.nth(0).locator("td").nth(0).inner_text() == "anna"
        rows.locator("a", has_text="Zahlen runden").click()
        reviewer.get_by_role("heading", name="Zahlen runden").wait_for()
        assert "Fassungen: 1 (anna), 2 (anna)" in reviewer.locator("main").inner_text()
        found["review"] = violations(reviewer)
        reviewer.get_by_label("Kommentar").fill("Danke!")
        reviewer.get_by_role("button", name="Freigeben").click()
        reviewer.get_by_text("Freigegeben: jetzt für alle sichtbar.").wait_for()

        # clara edits the published item, then may not approve her own revision
        both = page_for()
        sign_in(both, desk, clara)
        both.goto(f"{desk}/zahlen-runden")
        both.get_by_role("heading", name="Zahlen runden").wait_for()
        area = both.get_by_label("Dokument (YAML)")
        area.fill(area.input_value().replace("title: Zahlen runden", "title: Runden"))
        both.get_by_role("button", name="Als neue Fassung speichern").click()
        both.get_by_text("Gespeichert: Fassung 3").wait_for()
        both.reload()
        both.get_by_role("button", name="Freigeben").click()
        both.get_by_text("Eine andere Person muss ihn prüfen.").wait_for()
        browser.close()
    assert errors == []
    assert found == {"desk": [], "review": []}
    public = httpx.get(f"{hub.url}/api/v1/learning/items/zahlen-runden").json()
    assert public["title"] == "Zahlen runden" and public["revision"] == 2
