"""SUMO scenarios: pure geometry and demand (``domain``), an XML writer and a netconvert runner.

Why split: the scenario's numbers (junction spacing, signal groups, intergreens, demand from a
seed) are data that unit tests check in milliseconds; only the writer and the builder touch
files and SUMO's binaries.
"""
