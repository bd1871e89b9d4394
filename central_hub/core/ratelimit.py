"""The hub's name for the shared rate limiter, which lives in :mod:`edge_agent.ratelimit`.

WHY a re-export: the limiter moved to ``edge_agent`` so that the bus gateway's captive portal
uses the same one without importing the hub; the Kita service and other hub code keep
importing it from here.
"""

from __future__ import annotations

from edge_agent.ratelimit import RateLimiter, client_key, retry_after

__all__ = ["RateLimiter", "client_key", "retry_after"]
