"""The open-data rules, pure: what each dataset holds and where its columns come from, the
privacy gate every table passes, and how a dataset reads in DCAT-AP.de, CKAN and Frictionless.

WHY pure: the gate is the one thing between the hub's data and the internet; it is tested
directly, cell by cell, with nothing in the way (no database, no server).
"""
