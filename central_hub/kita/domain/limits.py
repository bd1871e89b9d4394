"""How long each text of the Kita procedure may be, and the other bounds of its values.

WHY in the domain: a bound is a rule of the procedure, not of one adapter. The use cases
check it and name the field, the HTTP bodies declare it (clients read it in the OpenAPI
document), and the tables are sized by it; all three read it here, so none of them imports
another's.
"""

from __future__ import annotations

#: longest Kita id, child id and family id.
ID_LENGTH = 64
#: longest age group name (``krippe``, ``kindergarten``).
AGE_GROUP_LENGTH = 16
#: longest child's name and Kita name.
NAME_LENGTH = 200
#: longest note of a claim check or reason of a withdrawal.
NOTE_LENGTH = 500
#: longest staff member's name.
STAFF_NAME_LENGTH = 100
#: longest claim value as checked: ``true``, a Kita id, or the home's ``lat,lon``.
CLAIM_VALUE_LENGTH = 80
#: lottery seeds are stored as signed 64-bit integers.
MAX_SEED = 2**63 - 1
#: a Kita child is younger than this (school starts at six).
MAX_AGE_YEARS = 8
