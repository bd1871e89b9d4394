"""Attack 5 (issue 13): request bodies without a size limit, on the hub and the captive portal.

What happened: a 600 MB chunked ``POST /accept`` from a passenger who had not accepted the
terms took the bus gateway's process (which also runs MQTT, SREM and GPS) from 64 MB to
1.24 GB before it answered 403; a 300 MB body to ``POST /api/v1/devices`` without a token took
the hub from 83 MB to 962 MB before it answered 401.

Each test starts the real process (``kassel hub``, ``kassel bus``), sends the body over a real
socket (:func:`~tests.hostile.http_attack.send_body`: it keeps sending until the answer comes)
and samples the server's RSS meanwhile. Required: 413 within seconds, before the body is read
(nothing of it buffered, the connection closed so the server stops reading), the RSS flat,
and normal requests still served afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from central_hub.broker import MosquittoBroker
from tests.hostile.http_attack import MB, Answer, BusGatewayProcess, RssSampler, send_body
from tests.support.hub_process import ADMIN, HubProcess

ENGINEER = "engineer-token-for-hostile-tests"
#: the RSS a refused body may cost the server (allocator noise, a few buffers).
RSS_SLACK_MB = 5.0
#: a refusal that does not wait for the body comes within this, even on a loaded machine.
ANSWER_S = 3.0
#: after answering, the server reads at most 1 s more of an unwanted body, then closes
#: (edge_agent.http_limits.LINGER_S); the client goes on sending for KEEP_SENDING_S to see it.
CLOSED_S = 3.0
KEEP_SENDING_S = 10.0
FLOOD = 300 * MB
DEVICE_JSON = b'{"device_id": "bus-9", "kind": "bus", "label": "'


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """One hub process for the module: every test measures its RSS from just before its own
    attack, and each ends with the hub serving normal requests again (what the next finds)."""
    tmp = tmp_path_factory.mktemp("hub")
    with MosquittoBroker(tmp / "mosquitto") as broker:
        proc = HubProcess(tmp, broker.url, f"sqlite:///{tmp / 'hub.db'}",
                          env={"KASSEL_HUB_ENGINEER_TOKEN": ENGINEER,
                               "KASSEL_HUB_KITA_STAFF_TOKEN": "kita-staff-token"})
        proc.start()
        yield proc
        proc.stop()


@pytest.fixture
def gateway(broker: MosquittoBroker, tmp_path: Path) -> Iterator[BusGatewayProcess]:
    bus = BusGatewayProcess(tmp_path, broker.url)
    bus.start()
    yield bus
    bus.stop()


def _warm_up(url: str, path: str) -> None:
    """One small request of each kind first, so lazily built code paths are not counted."""
    with httpx.Client(base_url=url, timeout=10) as http:
        http.post(path, content=b'{"x": 1}', headers={"Content-Type": "application/json"})
        http.post(path, content=b"x" * (256 * 1024),
                  headers={"Content-Type": "application/json"})


def _report(what: str, answer: Answer, rss: RssSampler) -> str:
    closed = ("-" if answer.closed_after_s is None
              else f"{answer.closed_after_s:.2f} s after it ({answer.sent_after / MB:.1f} MB sent"
              " meanwhile)")
    line = (f"{what}: {answer.status} after {answer.seconds * 1000:.0f} ms "
            f"({answer.sent / MB:.1f} MB sent by then), closed {closed}; RSS before "
            f"{rss.before_mb:.1f} MB, peak {rss.peak_mb:.1f} MB, after {rss.after_mb:.1f} MB; "
            f"head {answer.raw[:120]!r}")
    print(line)
    return line


def test_hub_answers_413_to_an_endless_chunked_body_before_auth_reads_it(
        hub: HubProcess) -> None:
    assert hub.proc is not None
    _warm_up(f"http://127.0.0.1:{hub.port}", "/api/v1/devices")
    with RssSampler(hub.proc.pid) as rss:
        answer = send_body("127.0.0.1", hub.port, "POST", "/api/v1/devices", total=FLOOD,
                           prefix=DEVICE_JSON, suffix=b'"}', keep_sending_s=KEEP_SENDING_S)
    line = _report("hub POST /api/v1/devices, 300 MB chunked, no token", answer, rss)
    assert (answer.status, rss.growth_mb < RSS_SLACK_MB) == (413, True), line
    assert answer.seconds < ANSWER_S, line
    assert answer.header("connection") == "close", line
    assert answer.closed_after_s is not None and answer.closed_after_s < CLOSED_S, line

    # a route that reads no body answers its 401 at once and does not drain the rest either
    with RssSampler(hub.proc.pid) as rss:
        answer = send_body("127.0.0.1", hub.port, "POST", "/api/v1/devices/bus-9/credentials",
                           total=FLOOD, keep_sending_s=KEEP_SENDING_S)
    line = _report("hub POST .../credentials (no body expected), 300 MB chunked", answer, rss)
    assert (answer.status, answer.header("connection")) == (401, "close"), line
    assert answer.seconds < ANSWER_S and rss.growth_mb < RSS_SLACK_MB, line
    assert answer.closed_after_s is not None and answer.closed_after_s < CLOSED_S, line

    # and the hub serves normal requests as before
    admin = {"Authorization": f"Bearer {ADMIN}"}
    created = hub.http.post("/api/v1/devices", json={"device_id": "bus-9", "kind": "bus"},
                            headers=admin)
    assert created.status_code == 201, created.text
    assert hub.http.get("/api/v1/kita/kitas").status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/devices", "/api/v1/kita/applications",
                                  "/api/v1/kita/families", "/api/v1/no-such-route"])
def test_hub_refuses_a_huge_content_length_at_once_on_every_route(
        hub: HubProcess, path: str) -> None:
    assert hub.proc is not None
    with RssSampler(hub.proc.pid) as rss:
        answer = send_body("127.0.0.1", hub.port, "POST", path, total=64 * MB, chunked=False,
                           content_length=10**12, prefix=DEVICE_JSON, deadline_s=20,
                           keep_sending_s=KEEP_SENDING_S)
    line = _report(f"hub POST {path}, Content-Length 10^12", answer, rss)
    assert answer.status == 413, line
    assert answer.seconds < ANSWER_S and rss.growth_mb < RSS_SLACK_MB, line
    assert answer.header("connection") == "close", line
    assert answer.closed_after_s is not None and answer.closed_after_s < CLOSED_S, line
    assert hub.http.get("/api/v1/ingest").status_code == 200


def test_hub_limits_are_per_route_with_a_small_default(hub: HubProcess) -> None:
    engineer = {"Authorization": f"Bearer {ENGINEER}", "Content-Type": "application/json"}
    admin = {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"}
    # 32 KiB: above the default, below what a command may carry (its MQTT payload limit)
    args = b'{"name": "ping", "args": {"blob": "' + b"a" * (32 * 1024) + b'"}}'
    command = hub.http.post("/api/v1/devices/ghost/commands", content=args, headers=engineer)
    # read in full and parsed: refused for its unknown command name, not for its size
    assert command.status_code == 422, command.text[:300]
    assert "union_tag_invalid" in command.text, command.text[:300]
    device = DEVICE_JSON + b"a" * (32 * 1024) + b'"}'
    refused = hub.http.post("/api/v1/devices", content=device, headers=admin)
    assert refused.status_code == 413, refused.text[:300]
    too_big = b'{"name": "ping", "args": {"blob": "' + b"a" * (80 * 1024) + b'"}}'
    refused = hub.http.post("/api/v1/devices/ghost/commands", content=too_big, headers=engineer)
    assert refused.status_code == 413, refused.text[:300]
    # an ordinary client that sends somewhat too much reads the 413, not a connection reset
    oversized = DEVICE_JSON + b"a" * (600 * 1024) + b'"}'
    refused = hub.http.post("/api/v1/devices", content=oversized, headers=admin)
    assert refused.status_code == 413, refused.text[:300]
    assert refused.json() == {"detail": "request body larger than 16384 bytes"}


def test_portal_answers_413_to_a_passengers_endless_body(gateway: BusGatewayProcess) -> None:
    form = b"accept=yes&lang=en&next="
    _warm_up(gateway.url, "/accept")
    with RssSampler(gateway.pid) as rss:
        answer = send_body("127.0.0.1", gateway.port, "POST", "/accept", total=FLOOD,
                           prefix=form, headers={"Content-Type":
                                                 "application/x-www-form-urlencoded"},
                           keep_sending_s=KEEP_SENDING_S)
    line = _report("portal POST /accept, 300 MB chunked, not a passenger", answer, rss)
    assert (answer.status, rss.growth_mb < RSS_SLACK_MB) == (413, True), line
    assert answer.seconds < ANSWER_S, line
    assert answer.header("connection") == "close", line
    assert answer.closed_after_s is not None and answer.closed_after_s < CLOSED_S, line

    with RssSampler(gateway.pid) as rss:
        answer = send_body("127.0.0.1", gateway.port, "POST", "/accept", total=64 * MB,
                           chunked=False, content_length=10**12, prefix=form, deadline_s=20,
                           keep_sending_s=KEEP_SENDING_S)
    line = _report("portal POST /accept, Content-Length 10^12", answer, rss)
    assert answer.status == 413, line
    assert answer.seconds < ANSWER_S and rss.growth_mb < RSS_SLACK_MB, line
    assert answer.closed_after_s is not None and answer.closed_after_s < CLOSED_S, line

    # the portal still answers passengers: the terms API, and /accept (403: not a passenger)
    with httpx.Client(base_url=gateway.url, timeout=10) as http:
        assert http.get("/api/captive").json()["captive"] is True
        refused = http.post("/accept", data={"accept": "yes", "lang": "en"},
                            headers={"Accept": "application/json"})
        assert refused.status_code == 403, refused.text
