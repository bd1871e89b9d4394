"""The controlled vocabularies a learning item's AMB metadata points into: subject, level, type.

WHY fixed URIs in code: AMB (the DINI AG KIM metadata profile, vendored schema in
``central_hub/learning/amb/``) wants subjects, educational levels and resource types as concept
URIs from the KIM vocabularies, not as free text, so that other OER search services can read
our items. The schema checks those URIs only by prefix, so a typo in the local part
(``s1071`` for ``s1017``) would still validate; the exact URIs and their German prefLabels
are therefore copied here, once, from the vocabularies themselves, and reviewed like code.

WHY ``http`` here and ``https`` there: the vocabularies do not share a scheme, and the AMB
schema (20231019) enforces each one. Schulfächer concepts are ``http://w3id.org/kim/...``
(the Turtle ``@base``; its ``https`` ``vann:preferredNamespaceUri`` would *fail* the schema's
``about`` check), while educationalLevel and HCRT concepts are ``https://w3id.org/kim/...``
(``http`` fails ``educationalLevel`` and ``learningResourceType``). Do not "normalise" them.

Sources (all three vocabularies are CC0 1.0, per ``dct:license`` in each file):

- subjects: github.com/dini-ag-kim/schulfaecher, ``schulfaecher.ttl`` at commit
  6ee3723fcb892a24cfb7633d4beb52828428d15d (2026-02-16); the labels are ``skos:prefLabel@de``.
  Labels can change upstream (that commit renamed s1055 to "Religion"); the URIs do not.
- levels: github.com/dini-ag-kim/educationalLevel, ``educationalLevel.ttl`` at commit
  d3b180d89931400170f99c6c30df8d95f9fa9f3c (2024-02-27). The grade bands are the ones the
  repository's README gives for these concepts (its WLO-educationalLevel column: 1-4, 5-10,
  11-13); the vocabulary itself has no concept per grade, and nothing finer than
  Primarbereich / Sekundarbereich I / Sekundarbereich II below university level.
- resource types: github.com/dini-ag-kim/hcrt, ``hcrt.ttl`` at commit
  ae2e0077a953e2bed865201ea21bb4ad68598f67 (2026-01-05). AMB requires at least one
  ``learningResourceType`` from HCRT (or the OpenEduHub list); the LRMI learningResourceType
  list (github.com/dcmi/lrmi, ``lrmi_vocabs/learningResourceType/learningResourceType.ttl`` at
  commit a061e2b1be62613cdfcd6d095113e6824d101c57) has no exercise or explanation concept, so
  it is not used.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

SCHULFAECHER: Final = "http://w3id.org/kim/schulfaecher/"
EDUCATIONAL_LEVEL: Final = "https://w3id.org/kim/educationalLevel/"
HCRT: Final = "https://w3id.org/kim/hcrt/"

#: our subject id -> (KIM Schulfächer concept URI, its German prefLabel)
SUBJECTS: Final[Mapping[str, tuple[str, str]]] = MappingProxyType(
    {
        "mathematik": (SCHULFAECHER + "s1017", "Mathematik"),
        "deutsch": (SCHULFAECHER + "s1005", "Deutsch"),
        "englisch": (SCHULFAECHER + "s1007", "Englisch"),
        "biologie": (SCHULFAECHER + "s1001", "Biologie"),
        "chemie": (SCHULFAECHER + "s1002", "Chemie"),
        "physik": (SCHULFAECHER + "s1022", "Physik"),
        "geschichte": (SCHULFAECHER + "s1011", "Geschichte"),
        # altLabels "Erdkunde", "Geographie"
        "geografie": (SCHULFAECHER + "s1010", "Geografie"),
        "informatik": (SCHULFAECHER + "s1013", "Informatik"),
        "kunst": (SCHULFAECHER + "s1015", "Kunst"),
        "musik": (SCHULFAECHER + "s1020", "Musik"),
        "sport": (SCHULFAECHER + "s1031", "Sport"),
        "franzoesisch": (SCHULFAECHER + "s1009", "Französisch"),
        "latein": (SCHULFAECHER + "s1016", "Latein"),
        # two separate concepts: "Politik" (altLabel "Politische Bildung") and "Sozialkunde"
        "politik": (SCHULFAECHER + "s1023", "Politik"),
        "sozialkunde": (SCHULFAECHER + "s1058", "Sozialkunde"),
        # the non-denominational concept (altLabel "Religion (konfessionslos)"); the
        # denominational ones are s1024 ev., s1026 kath., s1025 islam., s1057 jüd., s1056 alevit.
        "religion": (SCHULFAECHER + "s1055", "Religion"),
        # altLabel "Werte und Normen"
        "ethik": (SCHULFAECHER + "s1008", "Ethik"),
        "sachunterricht": (SCHULFAECHER + "s1028", "Sachunterricht"),
    }
)

#: (first grade, last grade, KIM educationalLevel concept URI, its German prefLabel).
#: The German school grades 1-13 fall into three concepts (ISCED 2011 levels 1-3); the
#: prefLabels say "-bereich", the altLabels "Primarstufe", "Sekundarstufe I/II". The bands are
#: the nationwide default: in Berlin and Brandenburg the Grundschule runs to grade 6, and
#: where the Gymnasium has eight years the Sekundarstufe II starts with grade 10; an item is
#: tagged by its grades, not by school type, so it gets the default band.
EDUCATIONAL_LEVELS: Final[tuple[tuple[int, int, str, str], ...]] = (
    (1, 4, EDUCATIONAL_LEVEL + "level_1", "Primarbereich"),
    (5, 10, EDUCATIONAL_LEVEL + "level_2", "Sekundarbereich I"),
    (11, 13, EDUCATIONAL_LEVEL + "level_3", "Sekundarbereich II"),
)

#: our item kind (``ItemKind`` in ``exercises.py``) -> (HCRT concept URI, its German prefLabel).
#: "Übung" (en "Drill and Practice") for exercise sets; "Textdokument" (en "Text", scope note
#: "zum Beispiel Artikel, Aufsatz, Abhandlung") is HCRT's nearest concept to an explanation.
RESOURCE_TYPES: Final[Mapping[str, tuple[str, str]]] = MappingProxyType(
    {
        "exercises": (HCRT + "drill_and_practice", "Übung"),
        "explanation": (HCRT + "text", "Textdokument"),
    }
)


def educational_levels(grade_min: int, grade_max: int) -> tuple[tuple[str, str], ...]:
    """The (URI, German label) of every level whose grade band meets grades min..max, in order.

    Grades 3-6 give Primarbereich and Sekundarbereich I: an item is listed under every stage
    a pupil who may use it is in.
    """
    if not 1 <= grade_min <= grade_max <= 13:
        raise ValueError(f"grades {grade_min}-{grade_max} are not a range within 1-13")
    return tuple(
        (uri, label)
        for first, last, uri, label in EDUCATIONAL_LEVELS
        if first <= grade_max and grade_min <= last
    )
