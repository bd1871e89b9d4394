"""The mobility rules, pure: the day's timetable with real time applied, the journey planner
(RAPTOR), footpaths, itineraries and their crowding, departures, sharing feeds, fares and the
booking state machine.

WHY pure: whether a planned connection can really be made is the one thing a passenger must
be able to trust; the planner is checked against an independent oracle on a city-sized
network with nothing in the way (no database, no server, no clock).
"""
