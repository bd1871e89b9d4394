"""NMEA 0183 decoding of the two sentences a bus needs: RMC (position, speed, course, date)
and GGA (fix quality, satellites, HDOP).

Why a decoder with counters instead of a library: serial lines from GPS receivers in a bus are
noisy (ignition spikes, half lines after a reconnect). Every line is checked against its
checksum and its fields; a bad one is rejected and counted by reason so that health can show a
failing receiver, and it never becomes a position. Talker ids (GP, GN, GL, GA, GB, BD) are all
accepted because multi-constellation receivers send ``$GN...``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from edge_agent.errors import KasselError

KNOT_MPS = 0.514444
_TALKERS = frozenset({"GP", "GN", "GL", "GA", "GB", "BD", "GQ"})
MAX_SENTENCE_LEN = 120  # NMEA says 82; some receivers send a little more


class NmeaError(KasselError, ValueError):
    """A sentence that cannot become a fix; ``reason`` is the counter label."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        super().__init__(f"{reason}: {detail}" if detail else reason)


@dataclass(frozen=True, slots=True)
class GpsFix:
    """One valid position: time (ms since the epoch, UTC), WGS-84, ground speed and course."""

    ts_ms: int
    lat: float
    lon: float
    speed_mps: float
    course_deg: float | None
    satellites: int | None = None
    hdop: float | None = None


def checksum(body: str) -> int:
    """XOR of every character between ``$`` and ``*``."""
    value = 0
    for ch in body:
        value ^= ord(ch)
    return value


def with_checksum(body: str) -> str:
    """``$body*CS`` — builds sentences for replays and tests."""
    return f"${body}*{checksum(body):02X}"


def split_sentence(line: str) -> tuple[str, list[str]]:
    """Check framing and checksum; return the sentence type (``RMC``) and its fields."""
    line = line.strip()
    if not line:
        raise NmeaError("empty")
    if len(line) > MAX_SENTENCE_LEN:
        raise NmeaError("too_long", f"{len(line)} characters")
    if not line.startswith("$"):
        raise NmeaError("no_start", line[:16])
    star = line.rfind("*")
    if star < 0:
        raise NmeaError("no_checksum", line[:16])
    body, given = line[1:star], line[star + 1 :]
    try:
        expected = int(given, 16)
    except ValueError as exc:
        raise NmeaError("bad_checksum", given) from exc
    if len(given) != 2 or checksum(body) != expected:
        raise NmeaError("bad_checksum", f"{given} != {checksum(body):02X}")
    fields = body.split(",")
    head = fields[0]
    if len(head) != 5 or head[:2] not in _TALKERS:
        raise NmeaError("unsupported", head)
    return head[2:], fields[1:]


def _coord(value: str, hemi: str, degree_digits: int) -> float:
    if not value or hemi not in ("N", "S", "E", "W"):
        raise NmeaError("malformed", f"coordinate {value!r} {hemi!r}")
    try:
        deg = int(value[:degree_digits])
        minutes = float(value[degree_digits:])
    except ValueError as exc:
        raise NmeaError("malformed", f"coordinate {value!r}") from exc
    if minutes >= 60.0:
        raise NmeaError("malformed", f"minutes {minutes}")
    out = deg + minutes / 60.0
    limit = 90.0 if degree_digits == 2 else 180.0
    if out > limit:
        raise NmeaError("malformed", f"coordinate {out} out of range")
    return -out if hemi in ("S", "W") else out


def _time_of_day(value: str) -> time:
    try:
        hh, mm = int(value[0:2]), int(value[2:4])
        seconds = float(value[4:])
        sec = int(seconds)
        micro = round((seconds - sec) * 1_000_000)
        return time(hh, mm, sec, min(micro, 999_999), tzinfo=UTC)
    except (ValueError, IndexError) as exc:
        raise NmeaError("malformed", f"time {value!r}") from exc


def _date(value: str) -> date:
    try:
        yy = int(value[4:6])
        century = 1900 if yy >= 80 else 2000  # two-digit years: 1980–2079
        return date(century + yy, int(value[2:4]), int(value[0:2]))
    except (ValueError, IndexError) as exc:
        raise NmeaError("malformed", f"date {value!r}") from exc


def _epoch_ms(day: date, tod: time) -> int:
    return int(datetime.combine(day, tod).timestamp() * 1000)


def _float(value: str, name: str) -> float | None:
    if value == "":
        return None
    try:
        return float(value)
    except ValueError as exc:
        raise NmeaError("malformed", f"{name} {value!r}") from exc


class NmeaDecoder:
    """Turns lines into fixes; remembers the date (RMC) and quality (GGA) between sentences.

    ``feed`` returns a :class:`GpsFix` for every valid RMC with status ``A``; GGA only updates
    satellites and HDOP and, when its fix quality is 0, marks the receiver as without fix until
    the next valid RMC. ``accepted`` and ``rejected`` (per reason) count every line.
    """

    def __init__(self) -> None:
        self.accepted = 0
        self.rejected: Counter[str] = Counter()
        self._satellites: int | None = None
        self._hdop: float | None = None
        self._day: date | None = None

    def feed(self, line: str) -> GpsFix | None:
        """Decode one line; ``None`` for a valid sentence without a new fix or a bad line."""
        try:
            kind, fields = split_sentence(line)
            if kind == "RMC":
                fix = self._rmc(fields)
            elif kind == "GGA":
                self._gga(fields)
                fix = None
            else:
                raise NmeaError("unsupported", kind)
        except NmeaError as exc:
            self.rejected[exc.reason] += 1
            return None
        self.accepted += 1
        return fix

    def _rmc(self, f: list[str]) -> GpsFix | None:
        if len(f) < 9:
            raise NmeaError("malformed", f"RMC with {len(f)} fields")
        tod = _time_of_day(f[0])
        day = _date(f[8])
        self._day = day
        if f[1] != "A":  # V: receiver has no valid fix
            return None
        lat = _coord(f[2], f[3], 2)
        lon = _coord(f[4], f[5], 3)
        knots = _float(f[6], "speed") or 0.0
        course = _float(f[7], "course")
        if knots < 0 or (course is not None and not 0.0 <= course <= 360.0):
            raise NmeaError("malformed", f"speed {knots} course {course}")
        return GpsFix(
            ts_ms=_epoch_ms(day, tod),
            lat=lat,
            lon=lon,
            speed_mps=knots * KNOT_MPS,
            course_deg=None if course is None else course % 360.0,
            satellites=self._satellites,
            hdop=self._hdop,
        )

    def _gga(self, f: list[str]) -> None:
        if len(f) < 8:
            raise NmeaError("malformed", f"GGA with {len(f)} fields")
        _time_of_day(f[0])
        quality = f[5]
        if quality not in {"0", "1", "2", "3", "4", "5", "6", "7", "8"}:
            raise NmeaError("malformed", f"fix quality {quality!r}")
        if quality != "0":
            _coord(f[1], f[2], 2)
            _coord(f[3], f[4], 3)
        sats = f[6]
        self._satellites = int(sats) if sats.isdigit() else None
        self._hdop = _float(f[7], "hdop")


def _position_fields(lat: float, lon: float) -> str:
    """``ddmm.mmmm,N,dddmm.mmmm,E``: the four position fields of RMC and GGA."""
    lat_h, lon_h = ("N" if lat >= 0 else "S"), ("E" if lon >= 0 else "W")
    alat, alon = abs(lat), abs(lon)
    lat_s = f"{int(alat):02d}{(alat - int(alat)) * 60:07.4f}"
    lon_s = f"{int(alon):03d}{(alon - int(alon)) * 60:07.4f}"
    return f"{lat_s},{lat_h},{lon_s},{lon_h}"


def rmc_sentence(
    ts_ms: int, lat: float, lon: float, speed_mps: float, course_deg: float
) -> str:
    """An RMC sentence for a fix (replays, the simulated GPS and tests)."""
    dt = datetime.fromtimestamp(ts_ms / 1000, UTC)
    body = (
        f"GPRMC,{dt:%H%M%S}.{dt.microsecond // 10000:02d},A,{_position_fields(lat, lon)},"
        f"{speed_mps / KNOT_MPS:.2f},{course_deg % 360:.1f},{dt:%d%m%y},,,A"
    )
    return with_checksum(body)


def gga_sentence(ts_ms: int, lat: float, lon: float, satellites: int = 9) -> str:
    """A GGA sentence for a fix with quality 1 (GPS)."""
    dt = datetime.fromtimestamp(ts_ms / 1000, UTC)
    body = (
        f"GPGGA,{dt:%H%M%S}.00,{_position_fields(lat, lon)},1,{satellites:02d},0.9,"
        f"160.0,M,47.0,M,,"
    )
    return with_checksum(body)
