"""An item's AMB metadata: what the German OER search engines harvest, as JSON-LD.

WHY AMB: the Allgemeines Metadatenprofil für Bildungsressourcen (DINI AG KIM) is the profile
WirLernenOnline, OERSI and the state education servers read. An item described in it, with
its subject, levels and type as concepts of the KIM vocabularies (:mod:`.vocabularies`), can
be found from those portals without anyone copying it there. The record is checked against
the AMB JSON Schema (vendored in ``central_hub/learning/amb/``) in the tests.
"""

from __future__ import annotations

from typing import Any

from central_hub.learning.domain.exercises import Item
from central_hub.learning.domain.vocabularies import (
    RESOURCE_TYPES,
    SUBJECTS,
    educational_levels,
)

AMB_CONTEXT = "https://w3id.org/kim/amb/context.jsonld"
#: every item's licence unless its author chose another (CC BY-SA 4.0)
DEFAULT_LICENSE = "https://creativecommons.org/licenses/by-sa/4.0/"
_INTERACTIVITY = "http://purl.org/dcx/lrmi-vocabs/interactivityType/"


def _concept(uri: str, label: str) -> dict[str, Any]:
    return {"id": uri, "type": "Concept", "prefLabel": {"de": label}}


def item_url(base_url: str, item_id: str) -> str:
    """Where the item is shown: the web app's page of it."""
    return f"{base_url.rstrip('/')}/lernen/#/items/{item_id}"


def amb_record(item: Item, *, base_url: str, creator: str = "Digitale Lernhilfe Kassel",
               publisher: str = "Stadt Kassel",
               license_uri: str = DEFAULT_LICENSE) -> dict[str, Any]:
    """The AMB record of ``item`` as the hub at ``base_url`` publishes it."""
    subject = SUBJECTS.get(item.subject)
    kind_uri, kind_label = RESOURCE_TYPES[item.kind]
    languages = ["de", "en"] if item.subject == "englisch" else ["de"]
    record: dict[str, Any] = {
        "@context": [AMB_CONTEXT, {"@language": "de"}],
        "id": item_url(base_url, item.id),
        "type": ["LearningResource"] + (["Quiz"] if item.kind == "exercises" else []),
        "name": item.title,
        "inLanguage": languages,
        "license": {"id": license_uri},
        "isAccessibleForFree": True,
        "creator": [{"type": "Organization", "name": creator}],
        "publisher": [{"type": "Organization", "name": publisher}],
        "educationalLevel": [_concept(uri, label) for uri, label
                             in educational_levels(item.grade_min, item.grade_max)],
        "learningResourceType": [_concept(kind_uri, kind_label)],
        "interactivityType": _concept(
            _INTERACTIVITY + ("active" if item.kind == "exercises" else "expositive"),
            "aktiv" if item.kind == "exercises" else "darbietend"),
        "audience": [_concept("http://purl.org/dcx/lrmi-vocabs/educationalAudienceRole/student",
                              "Lernende")],
        "mainEntityOfPage": [{"id": f"{base_url.rstrip('/')}/api/v1/learning/items/{item.id}/amb"}],
    }
    if subject is not None:
        record["about"] = [_concept(subject[0], subject[1])]
    if item.description:
        record["description"] = item.description
    if item.keywords:
        record["keywords"] = list(item.keywords)
    return record
