"""Central allocation of Kita (daycare) places by parents' ranked wishes (issue 7).

Parents rank up to five Kitas; the city allocates per age group with child-proposing deferred
acceptance, so no child is passed over by one with lower priority (stability) and no family
gains by misstating its ranking (strategy-proofness). The rules live in the pure
:mod:`central_hub.kita.domain`; :mod:`central_hub.kita.csv_io` and :mod:`central_hub.kita.cli`
are thin adapters around it. Policy and formats: ``docs/kita.md``.
"""
