"""Lab pieces that the tests and the benchmarks share: the signal controller's independent
oracle, the network-namespace lab of the bus gateway, the fake monitor interface ``mon0`` and
the probe requests written into it, the probe-flood roles, the lab's passengers behind one
access point and the CPU/RSS measuring window.

WHY a package of its own: ``bench/`` measured the same things the tests check, with the same
helpers, and imported them from ``tests/`` — so a benchmark depended on the layout of the test
suite. Here they have one home that both import as ``testbed.*``. It is not part of the
installed distribution (nothing on a bus or a hub needs it): it is imported from a checkout,
where pytest puts the repository root on ``sys.path`` (``pythonpath`` in pyproject.toml) and
each ``bench/*.py`` script puts it there itself.
"""
