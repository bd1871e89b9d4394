"""Kassel's 23 districts (Stadtteile) and which one a place lies in.

WHY by nearest centre: the Kita records carry coordinates, not districts, and the hub holds no
district boundaries. Each place is assigned to the district whose centre is nearest (a Voronoi
approximation of the boundaries): right for a place well inside a district, possibly the
neighbour for one near a boundary. The datasets say so in their column description; a city
deployment replaces :data:`CENTRES` with the official boundaries' centroids or a polygon test.

Pure: no I/O.
"""

from __future__ import annotations

import math

#: district name -> approximate centre (lat, lon)
CENTRES: dict[str, tuple[float, float]] = {
    "Mitte": (51.3165, 9.4960),
    "Südstadt": (51.3040, 9.4880),
    "Vorderer Westen": (51.3170, 9.4700),
    "Wehlheiden": (51.3070, 9.4630),
    "Bad Wilhelmshöhe": (51.3130, 9.4300),
    "Brasselsberg": (51.2950, 9.4160),
    "Süsterfeld-Helleböhn": (51.2920, 9.4480),
    "Harleshausen": (51.3420, 9.4200),
    "Kirchditmold": (51.3260, 9.4450),
    "Rothenditmold": (51.3300, 9.4700),
    "Nord-Holland": (51.3300, 9.4900),
    "Philippinenhof-Warteberg": (51.3420, 9.4700),
    "Fasanenhof": (51.3300, 9.5150),
    "Wesertor": (51.3220, 9.5100),
    "Wolfsanger-Hasenhecke": (51.3380, 9.5350),
    "Bettenhausen": (51.3130, 9.5300),
    "Forstfeld": (51.3000, 9.5350),
    "Waldau": (51.2850, 9.5250),
    "Niederzwehren": (51.2830, 9.4700),
    "Oberzwehren": (51.2780, 9.4450),
    "Nordshausen": (51.2700, 9.4400),
    "Jungfernkopf": (51.3550, 9.4450),
    "Unterneustadt": (51.3120, 9.5100),
}


def district_of(lat: float, lon: float) -> str:
    """The district whose centre is nearest to (lat, lon)."""
    k = math.cos(math.radians(51.31))
    return min(CENTRES, key=lambda d: (CENTRES[d][0] - lat) ** 2
               + ((CENTRES[d][1] - lon) * k) ** 2)
