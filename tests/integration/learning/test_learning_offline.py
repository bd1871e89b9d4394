"""The pupils' pages without the hub, in headless Chromium.

* The browser's checker (``lernen-check.js``, fed by ``GET …/items/{id}/offline``) judges
  every browser-checkable starter exercise as the hub does: the samples, the hints, the
  model answers and variants of them (case, spacing, typos, other choices and orders) give
  the same verdict, feedback and outcome on both sides.
* Offline play: an exercise set opened once opens again after the hub is stopped (a real
  cut: nothing listens on its port), word answers and choices are judged in the browser, a
  number waits in the queue and is checked by the hub when it is back on the same address.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright

from central_hub.broker import MosquittoBroker, free_port
from central_hub.learning.domain.checking import AnswerShapeError, check
from central_hub.learning.domain.exercises import Answer, Exercise
from central_hub.learning.domain.offline import browser_checkable
from central_hub.learning.settings import LearningSettings
from central_hub.learning.starter import items
from tests.integration.central_hub.helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    HubServer,
    hub_config,
    start_hub,
    wait_for,
)
from tests.integration.learning.test_learning_web import submit_by_keyboard


def _typos(word: str) -> list[str]:
    """A swap of two letters, a letter left out, and the ß/ss spelling of ``word``."""
    out = []
    if len(word) >= 2:
        out += [word[1] + word[0] + word[2:], word[:-1]]
    if "ß" in word or "ss" in word:
        out.append(word.replace("ß", "ss") if "ß" in word else word.replace("ss", "ß"))
    return out


def _text_variants(model: str) -> list[str]:
    return [model.upper(), f"  {model}  ", model.swapcase(), *_typos(model), ""]


def _answers(exercise: Exercise) -> list[Answer]:
    answers: list[Answer] = [*exercise.samples.accept, *exercise.samples.reject,
                             *(h.answer for h in exercise.hints)]
    ids = [o.id for o in exercise.options]
    if exercise.type == "input" and exercise.answer is not None:
        for text in (exercise.answer.value, *exercise.answer.alternatives):
            answers += [text, *_text_variants(text)]
    elif exercise.type == "cloze":
        model = [g.value for g in exercise.gaps]
        answers.append(tuple(model))
        for n, gap in enumerate(model):
            for variant in _text_variants(gap):
                answers.append((*model[:n], variant, *model[n + 1:]))
    elif exercise.type in ("single_choice", "multiple_choice"):
        correct = [o.id for o in exercise.options if o.correct]
        answers += [(i,) for i in ids] + [tuple(correct), tuple(correct[:-1]), (), tuple(ids)]
    elif exercise.type == "ordering":
        answers += [tuple(ids), tuple(reversed(ids)), tuple(ids[1:] + ids[:1])]
    else:
        pairs = [p.id for p in exercise.pairs]
        answers += [tuple(pairs), tuple(pairs[1:] + pairs[:1]), tuple(reversed(pairs))]
    return answers


def _cases() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(cases for the browser, the hub's verdicts)`` of every browser-checkable exercise."""
    cases, expected = [], []
    for item, _ in items():
        for exercise in item.exercises:
            if not browser_checkable(exercise):
                continue
            for answer in _answers(exercise):
                try:
                    verdict = check(exercise, answer)
                except AnswerShapeError:
                    continue  # the hub answers 422; the pages never send such an answer
                cases.append({"item": item.id, "address": f"{item.id}.{exercise.id}",
                              "answer": answer if isinstance(answer, str) else list(answer)})
                expected.append({"correct": verdict.correct, "feedback": verdict.feedback,
                                 "outcome": verdict.outcome,
                                 **({"gaps": list(verdict.gaps)} if exercise.type == "cloze"
                                    else {})})
    return cases, expected


JUDGE = """async (cases) => {
  const { checkOffline } = await import("/lernen/lernen-check.js");
  const rules = {};
  for (const id of new Set(cases.map((c) => c.item))) {
    rules[id] = await (await fetch(`/api/v1/learning/items/${id}/offline`)).json();
  }
  return cases.map((c) => checkOffline(rules[c.item], c.address, c.answer));
}"""


def test_the_browser_judges_every_offline_exercise_as_the_hub_does(hub: HubServer) -> None:
    cases, expected = _cases()
    exercises = {c["address"] for c in cases}
    assert len(exercises) == 155 and len(cases) > 1500
    assert sum(e["outcome"] == "typo" for e in expected) > 20  # the typo rule is exercised
    assert sum(e["outcome"] == "hint" for e in expected) > 20
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page()
        page.goto(hub.url + "/lernen/")
        got = page.evaluate(JUDGE, cases)
        browser.close()
    differ = [(c, e, g) for c, e, g in zip(cases, expected, got, strict=True) if e != g]
    assert differ == []


def _rules_cached(page: Page, path: str) -> bool:
    return bool(page.evaluate("async (p) => !!(await caches.match(p))", path))


def test_an_opened_exercise_set_works_with_the_hub_gone(broker: MosquittoBroker,
                                                         tmp_path: Path) -> None:
    port = free_port()
    config = hub_config(tmp_path, broker)
    hub = start_hub(config, port=port, learning=LearningSettings())
    item = "deutsch-kommasetzung"
    form = "form[data-exercise='deutsch-kommasetzung.{}']".format
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                         headless=True)
            page = browser.new_page(viewport={"width": 360, "height": 800})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{hub.url}/lernen/#/items/{item}")
            page.locator(form("k3")).wait_for()
            # the service worker took the page over and kept the item and its offline rules
            # polled from here: the pages' policy forbids the eval a waiting function polls with
            wait_for(lambda: page.evaluate("navigator.serviceWorker.controller !== null"),
                     what="the service worker")
            wait_for(lambda: _rules_cached(page, f"/api/v1/learning/items/{item}/offline") and
                     _rules_cached(page, f"/api/v1/learning/items/{item}"),
                     what="the item's cache")

            hub.stop()  # the cut: nothing answers on the hub's address any more
            try:
                httpx.get(f"{hub.url}/lernen/", timeout=2)
                raise AssertionError("the hub still answers")
            except httpx.ConnectError:
                pass
            page.reload()
            page.locator(form("k3")).wait_for()
            assert page.locator("main h1").inner_text() == "Kommas bei Aufzählungen und Nebensätzen"

            # a word answer, judged in the browser by the hub's rule (case is forgiven)
            page.locator(f"{form('k3')} input[type=text]").focus()
            page.keyboard.type("OB")
            assert submit_by_keyboard(page, form("k3")) == "Richtig! (offline geprüft)"
            # a single choice
            page.locator(f"{form('k1')} input[type=radio]").first.focus()
            page.keyboard.press("Space")
            assert submit_by_keyboard(page, form("k1")).endswith("(offline geprüft)")
            # a number needs the hub: it waits in the queue
            page.locator(f"{form('k6')} input[type=text]").focus()
            page.keyboard.type("2")
            assert submit_by_keyboard(page, form("k6")).startswith("Du bist offline.")
            queue = page.evaluate("JSON.parse(localStorage.getItem('lernhilfe.warteschlange'))")
            assert queue == [{"exercise": f"{item}.k6", "answer": "2"}]

            # the hub back on its address: the queued answer is checked there
            hub = start_hub(config, port=port, learning=LearningSettings())
            verdict = page.locator(f"{form('k6')} .rueckmeldung")
            verdict.filter(has_text="nachgeprüft").wait_for(timeout=20_000)
            assert verdict.inner_text() == "Richtig! (nachgeprüft)"
            assert page.evaluate("localStorage.getItem('lernhilfe.warteschlange')") == "[]"
            tries = page.evaluate("JSON.parse(localStorage.getItem('lernhilfe.fortschritt'))")
            assert tries[f"{item}.k3"] == [1] and tries[f"{item}.k6"] == [1]
            browser.close()
        assert errors == []
    finally:
        hub.stop()


def test_progress_moves_to_another_browser_by_its_code(hub: HubServer) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        first, second = browser.new_context(), browser.new_context()  # two devices
        page = first.new_page()
        page.goto(f"{hub.url}/lernen/#/items/deutsch-kommasetzung")
        k3 = "form[data-exercise='deutsch-kommasetzung.k3']"
        page.locator(f"{k3} input[type=text]").fill("ob")
        page.locator(f"{k3} button[type=submit]").click()
        page.locator(f"{k3} .rueckmeldung.richtig").wait_for()
        page.goto(f"{hub.url}/lernen/#/fortschritt")
        code = page.locator("#code-aus")
        code.wait_for()
        wait_for(lambda: code.input_value().startswith("LH1."), what="the progress code")
        text = code.input_value()

        other = second.new_page()
        other.goto(f"{hub.url}/lernen/#/fortschritt")
        other.locator("#code-ein").fill(text[:-3])  # a code copied incompletely
        other.get_by_role("button", name="Übernehmen").click()
        result = other.locator("form .rueckmeldung")
        result.filter(has_text="nicht vollständig").wait_for()
        other.locator("#code-ein").fill(text)
        other.get_by_role("button", name="Übernehmen").click()
        result.filter(has_text="Übernommen: 1 Aufgaben").wait_for()
        moved = other.evaluate("JSON.parse(localStorage.getItem('lernhilfe.fortschritt'))")
        assert moved == {"deutsch-kommasetzung.k3": [1]}
        browser.close()


def test_every_offline_rule_is_served_and_none_for_the_hubs_own_types(hub: HubServer) -> None:
    for item, _ in items():
        rules = httpx.get(f"{hub.url}/api/v1/learning/items/{item.id}/offline").json()
        expected = {f"{item.id}.{e.id}" for e in item.exercises if browser_checkable(e)}
        assert set(rules["exercises"]) == expected
        # the authors' samples and the worked solutions stay on the hub
        assert not any({"samples", "solution"} & set(r) for r in rules["exercises"].values())
    assert httpx.get(f"{hub.url}/api/v1/learning/items/nope/offline").status_code == 404
    # numbers, terms and quantities keep their answers on the hub
    rules = httpx.get(f"{hub.url}/api/v1/learning/items/mathe-dezimalzahlen/offline").json()
    assert "mathe-dezimalzahlen.d1" not in rules["exercises"]
