"""NMEA decoding: RMC/GGA fields, checksums, and rejection counting."""

from __future__ import annotations

import pytest

from bus_gateway.domain.nmea import (
    NmeaDecoder,
    checksum,
    gga_sentence,
    rmc_sentence,
    split_sentence,
    with_checksum,
)

RMC = "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A"
GGA = "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47"


def test_known_rmc_sentence_decodes():
    dec = NmeaDecoder()
    assert dec.feed(GGA) is None
    fix = dec.feed(RMC)
    assert fix is not None
    assert fix.lat == pytest.approx(48 + 7.038 / 60)
    assert fix.lon == pytest.approx(11 + 31.0 / 60)
    assert fix.speed_mps == pytest.approx(22.4 * 0.514444)
    assert fix.course_deg == pytest.approx(84.4)
    assert fix.satellites == 8 and fix.hdop == pytest.approx(0.9)
    assert fix.ts_ms == 764426119000  # 1994-03-23 12:35:19 UTC
    assert dec.accepted == 2 and not dec.rejected


def test_southern_western_hemispheres_are_negative():
    body = "GNRMC,000000.00,A,3351.000,S,07040.000,W,0.0,,010125,,,A"
    fix = NmeaDecoder().feed(with_checksum(body))
    assert fix is not None
    assert fix.lat == pytest.approx(-(33 + 51 / 60))
    assert fix.lon == pytest.approx(-(70 + 40 / 60))
    assert fix.course_deg is None


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (RMC[:-2] + "00", "bad_checksum"),
        (RMC.split("*", maxsplit=1)[0], "no_checksum"),
        ("GPRMC,123519,A*00", "no_start"),
        ("", "empty"),
        (with_checksum("GPGSV,3,1,11"), "unsupported"),
        (with_checksum("XXRMC,123519,A,4807.038,N,01131.000,E,0,0,230394,,"), "unsupported"),
        (with_checksum("GPRMC,123519,A,4807.038,N"), "malformed"),
        (with_checksum("GPRMC,1x3519,A,4807.038,N,01131.000,E,0,0,230394,,"), "malformed"),
        (with_checksum("GPRMC,123519,A,4867.038,N,01131.000,E,0,0,230394,,"), "malformed"),
        (with_checksum("GPRMC,123519,A,4807.038,Q,01131.000,E,0,0,230394,,"), "malformed"),
        ("$" + "A" * 200 + "*00", "too_long"),
    ],
)
def test_bad_sentences_are_rejected_and_counted(line, reason):
    dec = NmeaDecoder()
    assert dec.feed(line) is None
    assert dec.rejected == {reason: 1}
    assert dec.accepted == 0


def test_void_rmc_is_valid_but_gives_no_fix():
    dec = NmeaDecoder()
    line = with_checksum("GPRMC,123519,V,,,,,,,230394,,")
    assert dec.feed(line) is None
    assert dec.accepted == 1 and not dec.rejected


def test_generated_sentences_round_trip():
    ts = 1_767_225_600_250  # 2026-01-01 00:00:00.25 UTC
    dec = NmeaDecoder()
    assert dec.feed(gga_sentence(ts, 51.3127, 9.4797, satellites=11)) is None
    fix = dec.feed(rmc_sentence(ts, 51.3127, 9.4797, 8.0, 271.5))
    assert fix is not None
    assert fix.ts_ms == ts
    assert fix.lat == pytest.approx(51.3127, abs=1e-6)
    assert fix.lon == pytest.approx(9.4797, abs=1e-6)
    assert fix.speed_mps == pytest.approx(8.0, abs=0.01)
    assert fix.satellites == 11


def test_checksum_is_xor_of_body():
    assert checksum("GPRMC") == ord("G") ^ ord("P") ^ ord("R") ^ ord("M") ^ ord("C")
    assert split_sentence(RMC)[0] == "RMC"
