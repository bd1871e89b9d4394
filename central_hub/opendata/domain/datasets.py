"""The datasets the city publishes: what each holds, column by column, and where every column
comes from.

WHY written down as data: the columns' meaning and origin (provenance) are part of the
publication (the CSV's documentation, the Frictionless schema, the catalogue), and the privacy
gate reads from the same specs which columns count people and which could single one out. One
place, so a column cannot be described one way and protected another.

Pure: no I/O.
"""

from __future__ import annotations

from central_hub.opendata.domain.records import ColumnSpec, ColumnType, DatasetSpec, PrivacySpec

INT, NUM, STR, DAY = ColumnType.INTEGER, ColumnType.NUMBER, ColumnType.STRING, ColumnType.DATE

#: the GTFS-Realtime occupancy statuses, in order of load (the share columns' suffixes)
OCCUPANCY_STATUSES = ("MANY_SEATS_AVAILABLE", "FEW_SEATS_AVAILABLE", "STANDING_ROOM_ONLY",
                      "CRUSHED_STANDING_ROOM_ONLY", "FULL")
#: the prediction horizons the signal dataset reports the mean error of (seconds ahead)
PREDICTION_BANDS = ("0_10", "10_30", "30_plus")

_ROLLUP = "the hub's hourly statistics roll-up of the buses' position and occupancy messages"


def _col(name: str, type_: ColumnType, title: str, description: str, source: str, *,
         unit: str | None = None, people: bool = False, qi: bool = False) -> ColumnSpec:
    return ColumnSpec(name, type_, title, description, source, unit, people, qi)


OCCUPANCY = DatasetSpec(
    id="kassel-occupancy-stop-hour",
    title="Auslastung der Busse nach Linie, Haltestelle und Tagesstunde",
    description="Ein- und Aussteigende, mittlere Besetzung und der Anteil der Fahrten je "
    "GTFS-Besetzungsstufe, für jede Linie, Haltestelle und Stunde des Tages, über die "
    "angegebene Zeitspanne zusammengefasst. Gezählt von den Fahrgastzählern der Busse.",
    themes=("TRAN",),
    keywords=("ÖPNV", "Auslastung", "Fahrgastzahlen", "Bus", "GTFS"),
    periodicity="DAILY",
    group="mobilitaet",
    columns=(
        _col("route_id", STR, "Linie", "GTFS route_id of the line", "position.route_id"),
        _col("stop_id", STR, "Haltestelle", "GTFS stop_id of the stop", "position.stop_id"),
        _col("hour", INT, "Stunde", "hour of the day (local time, 0-23) of the stop call",
             "position.ts"),
        _col("stop_calls", INT, "Halte", "calls of a bus of the line at the stop in that hour",
             f"{_ROLLUP}: STOPPED_AT calls"),
        _col("boardings", INT, "Einsteigende", "passengers who boarded",
             f"{_ROLLUP}: rises of occupancy.passengers at the stop", people=True),
        _col("alightings", INT, "Aussteigende", "passengers who alighted",
             f"{_ROLLUP}: falls of occupancy.passengers at the stop", people=True),
        _col("mean_load", NUM, "Mittlere Besetzung", "mean passengers on board when leaving",
             f"{_ROLLUP}: occupancy.passengers", unit="passengers"),
        *(_col(f"share_{s.lower()}", NUM, f"Anteil {s}",
               f"share of occupancy reports at the stop with status {s}",
               f"{_ROLLUP}: occupancy.occupancy_status", unit="1") for s in OCCUPANCY_STATUSES),
    ),
    main_measure="mean_load",
    privacy=PrivacySpec(threshold=5),
)

PUNCTUALITY = DatasetSpec(
    id="kassel-punctuality-stop",
    title="Pünktlichkeit der Busse nach Linie und Haltestelle",
    description="Verspätungsperzentile (Median, 90. und 95. Perzentil, in Sekunden) je Linie "
    "und Haltestelle aus den Echtzeitdaten (GTFS-Realtime TripUpdates) der Zeitspanne.",
    themes=("TRAN",),
    keywords=("ÖPNV", "Pünktlichkeit", "Verspätung", "GTFS-Realtime"),
    periodicity="DAILY",
    group="mobilitaet",
    columns=(
        _col("route_id", STR, "Linie", "GTFS route_id of the line", "position.route_id"),
        _col("stop_id", STR, "Haltestelle", "GTFS stop_id of the stop", "position.stop_id"),
        _col("calls", INT, "Halte", "stop calls measured", f"{_ROLLUP}: STOPPED_AT calls"),
        _col("delay_p50_s", NUM, "Verspätung Median", "median delay at the stop",
             "the hub's schedule deviation (as in its TripUpdates), 30-s histogram", unit="s"),
        _col("delay_p90_s", NUM, "Verspätung P90", "90th percentile of the delay",
             "the hub's schedule deviation (as in its TripUpdates), 30-s histogram", unit="s"),
        _col("delay_p95_s", NUM, "Verspätung P95", "95th percentile of the delay",
             "the hub's schedule deviation (as in its TripUpdates), 30-s histogram", unit="s"),
        _col("on_time_share", NUM, "Anteil pünktlich",
             "share of calls between 1 min early and 3 min late (VDV definition)",
             "the hub's schedule deviation", unit="1"),
    ),
    main_measure="delay_p90_s",
)

WLAN = DatasetSpec(
    id="kassel-wlan-route-day",
    title="Nutzung des Fahrgast-WLANs nach Linie und Tag",
    description="Sitzungen und übertragene Datenmenge im kostenlosen WLAN der Busse, je Linie "
    "und Tag. Ohne Geräteadressen, IP-Adressen oder Sitzungskennungen; die Sitzungszahlen "
    "sind mit Differential Privacy verrauscht.",
    themes=("TRAN", "TECH"),
    keywords=("WLAN", "Bus", "Digitalisierung"),
    periodicity="DAILY",
    group="mobilitaet",
    columns=(
        _col("date", DAY, "Tag", "service day", "wlan.ts"),
        _col("route_id", STR, "Linie", "GTFS route_id the bus served", "position.route_id"),
        _col("sessions", INT, "Sitzungen", "passenger sessions opened on the portal",
             "rises of wlan.clients_authenticated", people=True),
        _col("data_mb", NUM, "Datenmenge", "data carried for passengers",
             "increments of wlan.rx_bytes + wlan.tx_bytes", unit="MB"),
    ),
    main_measure="sessions",
    # event-level privacy: the unit protected is one session (one cell changes by 1); the
    # city's daily totals are known (the operator reports them), so days form lines
    privacy=PrivacySpec(threshold=5, epsilon=1.0, sensitivity=1, column_sums=(("date",),)),
)

SIGNALS = DatasetSpec(
    id="kassel-signal-operations-day",
    title="Betrieb der Lichtsignalanlagen nach Knoten und Tag",
    description="Umlaufzeiten, Grünanteile je Signalgruppe, Busbevorrechtigungen "
    "(gewährt und abgelehnt), Minuten im sicheren Zustand und die Güte der "
    "Schaltzeitprognosen je Knoten und Tag.",
    themes=("TRAN",),
    keywords=("Ampel", "Lichtsignalanlage", "SPaT", "ÖPNV-Beschleunigung"),
    periodicity="DAILY",
    group="verkehrssteuerung",
    columns=(
        _col("date", DAY, "Tag", "day", "signal_changes.start_ms"),
        _col("intersection_id", STR, "Knoten", "the intersection", "spat.intersection_id"),
        _col("sg", STR, "Signalgruppe", "the signal group", "spat.groups[].sg"),
        _col("green_share", NUM, "Grünanteil", "share of the observed time the group showed green",
             "the hub's signal history (signal_changes)", unit="1"),
        _col("cycles", INT, "Umläufe", "green starts of the intersection's first group",
             "the hub's signal history"),
        _col("mean_cycle_s", NUM, "Mittlere Umlaufzeit", "mean time between those green starts",
             "the hub's signal history", unit="s"),
        _col("priority_granted", INT, "Bevorrechtigung gewährt", "bus priority requests granted",
             "ssem.requests[].status"),
        _col("priority_rejected", INT, "Bevorrechtigung abgelehnt",
             "bus priority requests rejected", "ssem.requests[].status"),
        _col("failsafe_min", NUM, "Minuten im sicheren Zustand",
             "minutes flashing, dark or in fault", "spat.status, sampled every minute",
             unit="min"),
        *(_col(f"prediction_mae_{b}_s", NUM, f"Prognosefehler {b.replace('_', '–')} s",
               f"mean absolute error of switch predictions made {b.replace('_', '-')} s ahead",
               "the hub's prediction scorer (spat.groups[].likely_end)", unit="s")
          for b in PREDICTION_BANDS),
        _col("prediction_inside_share", NUM, "Anteil in Grenzen",
             "share of switches inside the published [min_end, max_end]",
             "the hub's prediction scorer", unit="1"),
    ),
    main_measure="green_share",
)

KITA = DatasetSpec(
    id="kassel-kita-allocation-district",
    title="Kita-Platzvergabe nach Stadtteil und Altersgruppe",
    description="Plätze, Anmeldungen und Zusagen nach Wunschrang (1. bis 5. Wahl) der "
    "jüngsten Vergaberunde, je Stadtteil und Altersgruppe, mit der Zahl der Kitas mit "
    "Warteliste. Kleine Zahlen sind unterdrückt, Personenzahlen verrauscht.",
    themes=("EDUC", "SOCI"),
    keywords=("Kita", "Kinderbetreuung", "Platzvergabe"),
    periodicity="ANNUAL",
    group="bildung",
    columns=(
        _col("district", STR, "Stadtteil", "Kassel district of the first-choice Kita "
             "(nearest district centre)", "kita.lat/lon", qi=True),
        _col("age_group", STR, "Altersgruppe", "age group of the places", "kita.age_group",
             qi=True),
        _col("places", INT, "Plätze", "places offered by the district's Kitas", "kita.capacity"),
        _col("applications", INT, "Anmeldungen", "children whose first choice is here",
             "kita applications", people=True),
        *(_col(f"offers_rank_{r}", INT, f"Zusagen {r}. Wahl", f"of them, offered their choice {r}",
               "kita placements of the latest round", people=True) for r in range(1, 6)),
        _col("no_offer", INT, "Ohne Zusage", "of them, without an offer",
             "kita placements of the latest round", people=True),
        _col("kitas_waiting_list", INT, "Kitas mit Warteliste",
             "Kitas with more first-choice applications than places", "kita applications"),
    ),
    main_measure="applications",
    # a child is one application in one row (sensitivity 2: its application and its
    # outcome); the city's totals per age group are published elsewhere (youth welfare
    # planning), so every age group's districts form a line
    privacy=PrivacySpec(
        threshold=5, epsilon=1.0, k=5, population="applications",
        row_sums=(("applications", (*(f"offers_rank_{r}" for r in range(1, 6)), "no_offer")),),
        column_sums=(("age_group",),)),
)

GTFS = DatasetSpec(
    id="kassel-gtfs",
    title="Fahrplan (GTFS) und Echtzeitdaten (GTFS-Realtime) des Kasseler Busnetzes",
    description="Der Sollfahrplan als GTFS-Datei und die Echtzeit-Feeds (Fahrzeugpositionen, "
    "Prognosen und Besetzung) als GTFS-Realtime-Schnittstellen.",
    themes=("TRAN",),
    keywords=("GTFS", "GTFS-Realtime", "Fahrplan", "ÖPNV"),
    periodicity="CONT",
    group="mobilitaet",
    columns=(),
    main_measure="",
    api_only=True,
)

#: every dataset, in the order the portal lists them
DATASETS: tuple[DatasetSpec, ...] = (OCCUPANCY, PUNCTUALITY, WLAN, SIGNALS, KITA, GTFS)
BY_ID = {d.id: d for d in DATASETS}
