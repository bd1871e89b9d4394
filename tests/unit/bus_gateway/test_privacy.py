"""MAC pseudonyms: keyed, rotating daily, never revealing the address."""

from __future__ import annotations

import itertools

import pytest

from bus_gateway.domain.privacy import (
    DAY_MS,
    MacHasher,
    is_locally_administered,
    is_multicast,
    parse_mac,
)


def counting_random():
    counter = itertools.count()
    return lambda n: bytes([next(counter) % 256]) * n


def test_same_day_same_pseudonym_next_day_different():
    h = MacHasher(counting_random())
    day0 = 20_000 * DAY_MS
    a = h.hash("AA:BB:CC:DD:EE:FF", day0 + 1)
    assert a == h.hash("aa:bb:cc:dd:ee:ff", day0 + DAY_MS - 1)
    assert a != h.hash("aa:bb:cc:dd:ee:ff", day0 + DAY_MS)
    assert h.rotations == 2
    assert "aa" not in repr(h) and a not in repr(h)


def test_pseudonym_contains_nothing_of_the_mac():
    h = MacHasher(counting_random())
    mac = "02:00:5e:10:00:01"
    p = h.hash(mac, 0)
    assert len(p) == 16
    assert mac.replace(":", "") not in p


def test_different_salts_give_unlinkable_pseudonyms():
    a = MacHasher(lambda n: b"\x01" * n).hash("00:11:22:33:44:55", 0)
    b = MacHasher(lambda n: b"\x02" * n).hash("00:11:22:33:44:55", 0)
    assert a != b


def test_bits_and_parsing():
    assert is_locally_administered("da:a1:19:00:00:01")
    assert not is_locally_administered("00:1b:63:00:00:01")
    assert is_multicast("01:00:5e:00:00:01")
    assert parse_mac("00-11-22-33-44-55") == bytes.fromhex("001122334455")
    with pytest.raises(ValueError, match="not a MAC"):
        parse_mac("00:11:22")


def test_short_random_source_is_refused():
    with pytest.raises(ValueError, match="32 bytes"):
        MacHasher(lambda n: b"x").hash("00:11:22:33:44:55", 0)
