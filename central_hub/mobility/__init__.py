"""Mobility: one app for every trip on foot, by bike, by shared car or by bus and tram, a hub
service (``docs/mobility.md``).

WHY a service of its own, on the hub: a journey planner that reads the hub's live data knows
what no other planner knows (where every bus is, how full it is, when every light changes);
passengers, sharing operators and a payment provider are its outside parties, with rules of
their own (bookings, tickets, refunds). It has the shape every hub service has
(:mod:`central_hub.core.services`).
"""
