"""Classes in the pupils' pages, in headless Chromium against a real hub: a teacher signs in
with an issued token of the role ``learning_teacher`` and creates a class; a pupil on another
device opts in with the code, practises, and appears in the teacher's overview under the
drawn pseudonym only; the pupil leaves and is gone. axe-core finds no violation on the
teacher's pages nor on the pupil's class section."""

from __future__ import annotations

from playwright.sync_api import Page, sync_playwright

from central_hub.core.identity import Role
from central_hub.core.tokens import TokenStore
from tests.integration.central_hub.helpers import CHROMIUM, CHROMIUM_ARGS, HubServer
from tests.integration.learning.test_learning_web import AXE

RULES = "{runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}}"


def violations(page: Page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found: list[str] = page.evaluate(
        f"async () => (await axe.run(document, {RULES})).violations"
        ".map(v => v.id + ': ' + v.nodes.length)")
    return found


def test_a_teacher_sees_a_pupil_only_under_its_pseudonym(hub: HubServer) -> None:
    _, key = TokenStore(hub.hub.engine).issue("frau-lange", {Role.LEARNING_TEACHER},
                                              expires_days=1)
    found: dict[str, list[str]] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        # axe is injected by the test; the hub's policy would (rightly) refuse inline script
        teacher = browser.new_context(bypass_csp=True).new_page()
        pupil = browser.new_context(bypass_csp=True,
                                    viewport={"width": 360, "height": 800}).new_page()
        errors: list[str] = []
        for page in (teacher, pupil):
            page.on("pageerror", lambda e: errors.append(str(e)))

        teacher.goto(f"{hub.url}/lernen/#/lehrkraft")
        teacher.get_by_label("Zugangsschlüssel").fill("not-a-key")
        teacher.get_by_role("button", name="Anmelden").click()
        teacher.get_by_text("Dieser Schlüssel gilt nicht.").wait_for()
        found["key"] = violations(teacher)
        teacher.get_by_label("Zugangsschlüssel").fill(key)
        teacher.get_by_role("button", name="Anmelden").click()
        teacher.get_by_role("heading", name="Meine Klassen").wait_for()
        teacher.get_by_label("Name der Klasse").fill("6b Mathe")
        teacher.get_by_role("button", name="Klassencode erzeugen").click()
        made = teacher.locator("#klassen-ergebnis")
        made.filter(has_text="Der Code").wait_for()
        code = made.inner_text().rsplit(" ", 1)[1].rstrip(".")
        assert teacher.locator("table code").inner_text() == code
        found["classes"] = violations(teacher)

        pupil.goto(f"{hub.url}/lernen/#/fortschritt")
        pupil.get_by_label("Klassencode").fill("AAAA-AAAA")
        pupil.get_by_role("button", name="Beitreten").click()
        pupil.get_by_text("Bitte bestätige zuerst").wait_for()  # no consent, no joining
        pupil.get_by_label("Ich möchte, dass meine Lehrkraft").check()
        pupil.get_by_role("button", name="Beitreten").click()
        pupil.get_by_text("Diesen Klassencode gibt es nicht.").wait_for()
        pupil.get_by_label("Klassencode").fill(code.lower())
        pupil.get_by_role("button", name="Beitreten").click()
        pupil.get_by_text("Willkommen! Dein Fantasiename ist").wait_for()
        said = pupil.locator("[data-testid=klasse]").inner_text()
        pseudonym = said.split("als „")[1].split("“")[0]
        assert "6b Mathe" in said
        found["pupil"] = violations(pupil)

        pupil.goto(f"{hub.url}/lernen/#/items/deutsch-kommasetzung")
        k3 = "form[data-exercise='deutsch-kommasetzung.k3']"
        pupil.locator(f"{k3} input[type=text]").fill("ob")
        pupil.locator(f"{k3} button[type=submit]").click()
        pupil.locator(f"{k3} .rueckmeldung.richtig").wait_for()

        teacher.goto(f"{hub.url}/lernen/#/lehrkraft/{code}")
        teacher.get_by_role("heading", name="Klasse 6b Mathe").wait_for()
        rows = teacher.locator("table").nth(0).locator("tbody tr")
        assert rows.count() == 1
        assert rows.first.locator("td").all_inner_texts() == ["1", "1", "100 %"]
        people = teacher.locator("table").nth(1).locator("tbody tr")
        assert people.first.locator("th").inner_text() == pseudonym
        assert "Code" in teacher.locator("main .meta").inner_text()
        found["overview"] = violations(teacher)

        pupil.goto(f"{hub.url}/lernen/#/fortschritt")
        pupil.get_by_role("button", name="Klasse verlassen").click()
        pupil.get_by_label("Klassencode").wait_for()
        teacher.reload()
        teacher.get_by_text("0 Kinder dabei").wait_for()
        assert teacher.get_by_text("Noch keine Versuche.").count() == 1
        browser.close()
    assert errors == []
    assert found == {"key": [], "classes": [], "pupil": [], "overview": []}
