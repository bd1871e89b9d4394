"""Central allocation of Kita (daycare) places by parents' ranked wishes, as a hub service.

Parents rank up to five Kitas; the city allocates per age group with child-proposing deferred
acceptance, so no child is passed over by one with lower priority (stability) and no family
gains by misstating its ranking (strategy-proofness). The rules live in the pure
:mod:`central_hub.kita.domain`; the package has the shape of every hub service
(:mod:`central_hub.core.services`): records in ``model``, use cases in ``service``, tables and
queries in ``tables`` and ``store``, HTTP in ``bodies`` and ``api``, ``kassel kita`` in
``cli`` (with the CSV adapter ``csv_io``), its settings section in ``settings``, and the
``mount`` the hub opens. Policy and formats: ``docs/kita.md``.
"""
