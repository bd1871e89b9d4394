"""hostapd control-interface text: station replies, events, the associated-station set."""

from __future__ import annotations

from bus_gateway.domain.hostapd import StationSet, parse_event, parse_station

# as hostapd_ctrl_iface_sta_mib() prints it (hostapd 2.10, open network, HT client)
STA_REPLY = (
    "02:AA:BB:CC:DD:01\nflags=[AUTH][ASSOC][AUTHORIZED][WMM][HT]\naid=1\ncapability=0x421\n"
    "listen_interval=10\nsupported_rates=82 84 8b 96 0c 12 18 24 30 48 60 6c\n"
    "timeout_next=NULLFUNC POLL\nrx_packets=1234\ntx_packets=987\nrx_bytes=250100\n"
    "tx_bytes=1048576\ninactive_msec=120\nsignal=-51\nrx_rate_info=720 mcs 7 shortGI\n"
    "tx_rate_info=650 mcs 7\nht_mcs_bitmask=ffff0000000000000000\nconnected_time=42\n"
)


def test_station_reply_end_of_list_and_fail():
    sta = parse_station(STA_REPLY)
    assert sta is not None and sta.mac == "02:aa:bb:cc:dd:01" and sta.associated
    assert {"AUTH", "ASSOC", "AUTHORIZED"} <= sta.flags
    auth_only = parse_station("02:aa:bb:cc:dd:02\nflags=[AUTH]\naid=0\n")
    assert auth_only is not None and not auth_only.associated
    assert parse_station("") is None
    assert parse_station("FAIL\n") is None
    assert parse_station("UNKNOWN COMMAND\n") is None


def test_events_with_level_prefix_and_extra_fields():
    ev = parse_event("<3>AP-STA-CONNECTED 02:AA:BB:CC:DD:01 keyid=guest")
    assert ev is not None and (ev.kind, ev.mac) == ("connected", "02:aa:bb:cc:dd:01")
    ev = parse_event("AP-STA-DISCONNECTED 02:aa:bb:cc:dd:01")
    assert ev is not None and ev.kind == "disconnected"
    assert parse_event("<3>CTRL-EVENT-EAP-STARTED 02:aa:bb:cc:dd:01") is None
    assert parse_event("<3>AP-STA-CONNECTED not-a-mac") is None


def test_station_set_tracks_radios_separately():
    table = StationSet()
    a, b = parse_station(STA_REPLY), parse_station("02:aa:bb:cc:dd:03\nflags=[AUTH][ASSOC]\n")
    assert a is not None and b is not None
    table.replace("wlan0", [a])
    table.replace("wlan1", [b])
    ev = parse_event("<3>AP-STA-CONNECTED 02:aa:bb:cc:dd:01")  # roamed to wlan1 as well
    assert ev is not None
    table.apply("wlan1", ev)
    assert table.macs() == {"02:aa:bb:cc:dd:01", "02:aa:bb:cc:dd:03"}
    table.forget("wlan0")
    assert table.macs() == {"02:aa:bb:cc:dd:01", "02:aa:bb:cc:dd:03"}
    gone = parse_event("<3>AP-STA-DISCONNECTED 02:aa:bb:cc:dd:03")
    assert gone is not None
    table.apply("wlan1", gone)
    assert table.macs() == {"02:aa:bb:cc:dd:01"} and table.radios() == ["wlan1"]
