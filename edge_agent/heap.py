"""``freeze_start_up_heap()``: keep what start-up built out of the cyclic collector's scans.

Why: a long-running process (a bus gateway, a signal controller, the hub) builds most of its
objects once (imports, configs, models, pydantic validators) and never frees them. Python's
full collection still walks every one of them, and on a gateway's ~70 MB heap that walk
paused the event loop for ~50 ms (the probe flood test saw 45–127 ms in the first second of a
flood, when the young objects it created triggered the first full collection; after
:func:`gc.freeze` the worst second was a few ms). Freezing moves everything alive now into a
permanent generation that no collection visits. Only for one-app-per-process entry points: in
a process that builds many apps (the tests), what an earlier app left would never be freed.
"""

from __future__ import annotations

import gc


def freeze_start_up_heap() -> None:
    """Collect once, then keep what exists now out of the collector's full scans."""
    gc.collect()
    gc.freeze()
