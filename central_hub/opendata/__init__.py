"""Open Data Rathaus: the city's anonymised data, published to German standards, a hub
service (``docs/opendata.md``).

WHY a service of its own: researchers, start-ups, citizens and the portals that harvest
DCAT-AP.de read it, with rules of its own (the privacy gate, versions, withdrawal); it has
the shape every hub service has (:mod:`central_hub.core.services`).
"""
