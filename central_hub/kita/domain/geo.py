"""Great-circle distance, for the catchment criterion.

The haversine formula on a sphere of the Earth's mean radius is accurate to about 0.5 %,
far finer than any catchment radius a city publishes, and needs no geodesy library.
Deciding "within the radius" for hundreds of thousands of (child, Kita) pairs does not need
the distance itself: the haversine term ``a`` grows with distance, so comparing it with the
term at the radius (:func:`haversine_bound`) gives the same answer without ``asin`` and
``sqrt`` (up to rounding in the last bit at exactly the boundary, far below a millimetre).
"""

from __future__ import annotations

from math import asin, cos, pi, radians, sin, sqrt

#: mean Earth radius (IUGG), in kilometres.
EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Distance in km between two points given in decimal degrees (WGS84 lat/lon)."""
    a = haversine_term(lat1, lon1, lat2, lon2)
    return 2.0 * EARTH_RADIUS_KM * asin(sqrt(min(1.0, a)))


def haversine_term(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The haversine term ``a`` (0 for the same point, 1 for antipodes) of two points."""
    phi1 = radians(lat1)
    phi2 = radians(lat2)
    half_dphi = sin((phi2 - phi1) / 2.0)
    half_dlambda = sin(radians(lon2 - lon1) / 2.0)
    return half_dphi * half_dphi + cos(phi1) * cos(phi2) * half_dlambda * half_dlambda


def haversine_bound(radius_km: float) -> float:
    """The haversine term at distance ``radius_km``: a point is within it iff its term is <=."""
    half_angle = radius_km / (2.0 * EARTH_RADIUS_KM)
    if half_angle >= pi / 2.0:
        return 1.0  # the radius spans the whole globe
    bound = sin(half_angle)
    return bound * bound


def within_km(lat1: float, lon1: float, lat2: float, lon2: float, radius_km: float) -> bool:
    """Whether two points are at most ``radius_km`` apart (the catchment criterion)."""
    return haversine_term(lat1, lon1, lat2, lon2) <= haversine_bound(radius_km)
