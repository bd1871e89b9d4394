"""The HTTP bodies of the Kita service against the use cases' records."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, date, datetime

from central_hub.kita.bodies import ApplicationFields, ApplicationIn, ApplicationOut
from central_hub.kita.claims import claim_statuses
from central_hub.kita.model import ApplicationInput, ApplicationView, StoredApplication


def test_an_application_has_the_same_fields_in_a_body_and_in_the_use_cases() -> None:
    assert set(ApplicationFields.model_fields) == {f.name for f in fields(ApplicationInput)}


def test_a_stored_application_reads_back_as_it_was_sent() -> None:
    sent = {"child_name": "Ida", "date_of_birth": "2024-05-01", "age_group": "U3",
            "choices": ["K1", "K2"], "sibling_kita": "K1", "hardship": True, "lat": 51.3,
            "lon": 9.5}
    data = ApplicationIn.model_validate(sent).to_input()
    assert data.choices == ("K1", "K2") and data.date_of_birth == date(2024, 5, 1)
    at = datetime(2026, 2, 1, tzinfo=UTC)
    stored = StoredApplication.of(data, child_id="C-1", family_id="F-1", child_key="k",
                                  submitted_at=at, updated_at=at)
    out = ApplicationOut.of(ApplicationView(stored, claim_statuses(stored, {}), None))
    shown = out.model_dump(mode="json")
    assert {k: shown[k] for k in sent} == sent
    assert (shown["child_id"], shown["family_id"]) == ("C-1", "F-1")
    assert "child_key" not in shown
    assert shown["claims"]["sibling"]["state"] == "unverified"
