"""ETSI C-ITS messages (ETSI TS 103 301) as UPER bytes, beside our JSON payloads.

Why a package of its own: vehicles and roadside units outside our platform read signal state
only as standard messages (SPATEM, MAPEM, SREM, SSEM: ITS PDU header, then ISO TS 19091 DSRC
data), and those are UPER-encoded ASN.1, not JSON. The contract owns every wire format, so
the codecs live here and stay pure (no I/O): ``header`` (the ITS PDU header and message ids),
``timemark`` (times and confidences on the DSRC scales), ``intersection_status`` (our
``status`` as IntersectionStatusObject bits), ``uper`` (the one boundary to the ASN.1 toolkit,
with the size bound and the header check), ``spatem`` (SPaT payload -> SPATEM and back),
``spatem_writer`` (the controller's SPATEM without the toolkit, byte-identical to it),
``mapem`` (the config's lane geometry -> MAPEM and back), ``srem`` (a priority request: our
JSON ``srem`` -> SREM and back), ``ssem`` (our JSON ``ssem`` -> SSEM and back) and ``errors``.
"""
