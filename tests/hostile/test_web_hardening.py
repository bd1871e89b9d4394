"""Issue 15, hardening the web surfaces: headers, CORS, rate limits and body limits over real HTTP.

Against a real ``kassel hub`` process and a real ``kassel bus`` (its captive portal), over
sockets. Different clients are different loopback addresses (127.0.0.x: Linux routes all of
127/8 to the loopback interface), so each rate-limit test has addresses of its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from central_hub.broker import MosquittoBroker
from tests.hostile.http_attack import BusGatewayProcess
from tests.support.hub_process import ADMIN, HubProcess

STAFF = "kita-staff-token-for-web-hardening"
#: the limits the hub runs with here: small, so that a few requests reach them.
AUTH_FAILURE_BURST = 5
KITA_WRITE_BURST = 3
PORTAL_ACCEPT_BURST = 2
#: the hub's default body limit (central_hub.api.deps.DEFAULT_BODY_LIMIT) and the portal's.
HUB_BODY_LIMIT = 16 * 1024
PORTAL_BODY_LIMIT = 8 * 1024
ORIGIN = "https://mobility-app.example"
#: the hub's HTML pages: every one needs the headers.
HUB_PAGES = ("/", "/docs", "/redoc", "/docs/oauth2-redirect")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """One hub for the module: its tests use addresses of their own, so they do not meet."""
    tmp = tmp_path_factory.mktemp("hub")
    with MosquittoBroker(tmp / "mosquitto") as broker:
        yield from _hub(tmp, broker)


def _hub(tmp: Path, broker: MosquittoBroker) -> Iterator[HubProcess]:
    proc = HubProcess(tmp, broker.url, f"sqlite:///{tmp / 'hub.db'}", env={
        "KASSEL_HUB_KITA_STAFF_TOKEN": STAFF,
        "KASSEL_HUB_RATE_LIMITS__AUTH_FAILURES__BURST": str(AUTH_FAILURE_BURST),
        "KASSEL_HUB_RATE_LIMITS__AUTH_FAILURES__PER_MINUTE": "1",
        "KASSEL_HUB_RATE_LIMITS__KITA_WRITES__BURST": str(KITA_WRITE_BURST),
        "KASSEL_HUB_RATE_LIMITS__KITA_WRITES__PER_MINUTE": "1",
    })
    try:
        proc.start()
        yield proc
    finally:
        proc.stop()


def client(hub: HubProcess, address: str = "127.0.0.1") -> httpx.Client:
    """An HTTP client of the hub from one loopback address."""
    return httpx.Client(base_url=f"http://127.0.0.1:{hub.port}", timeout=10,
                        transport=httpx.HTTPTransport(local_address=address))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def directives(policy: str) -> dict[str, str]:
    """A Content-Security-Policy as ``{directive: sources}``."""
    out = {}
    for part in policy.split(";"):
        name, _, sources = part.strip().partition(" ")
        if name:
            out[name] = sources.strip()
    return out


# -- headers --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", HUB_PAGES)
def test_every_hub_page_has_a_strict_policy_and_no_inline_script(hub: HubProcess,
                                                                 path: str) -> None:
    with client(hub) as http:
        page = http.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = directives(page.headers["content-security-policy"])
    assert csp["frame-ancestors"] == "'none'" and csp["base-uri"] == "'none'"
    assert csp["script-src"] == "'self'", csp  # no inline script, no eval, nothing from elsewhere
    assert "'unsafe-inline'" not in csp.get("script-src", "") + csp.get("default-src", "")
    if path not in ("/docs", "/redoc"):  # Swagger UI and ReDoc inject style elements
        assert "'unsafe-inline'" not in page.headers["content-security-policy"]
        assert " style=" not in page.text and "<style" not in page.text
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-frame-options"] == "DENY"
    assert "strict-transport-security" not in page.headers  # plain HTTP: no HSTS
    inline = [s for s in re.findall(r"<script\b([^>]*)>", page.text) if "src=" not in s]
    assert inline == [], f"inline scripts on {path}"


def test_errors_and_json_carry_the_headers_too(hub: HubProcess) -> None:
    with client(hub) as http:
        for answer in (http.get("/api/v1/ingest"), http.get("/no/such/page"),
                       http.post("/api/v1/devices", json={})):
            assert answer.headers["x-content-type-options"] == "nosniff", answer.url
            assert answer.headers["referrer-policy"] == "no-referrer"
            assert answer.headers["x-frame-options"] == "DENY"


def test_hsts_only_when_a_trusted_proxy_says_the_request_came_over_tls(
        hub: HubProcess) -> None:
    tls = {"X-Forwarded-Proto": "https"}
    # 127.0.0.1 is uvicorn's default trusted proxy (FORWARDED_ALLOW_IPS)
    with client(hub) as proxy:
        assert proxy.get("/", headers=tls).headers["strict-transport-security"] == (
            "max-age=31536000")
        assert "strict-transport-security" not in proxy.get("/").headers
    # anyone else claiming TLS is not believed
    with client(hub, "127.0.0.9") as stranger:
        assert "strict-transport-security" not in stranger.get("/", headers=tls).headers


# -- CORS -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/gtfs-rt/vehicle-positions", "/gtfs-rt/trip-updates",
                                  "/api/v1/intersections", "/api/v1/vehicles",
                                  "/api/v1/network", "/api/v1/intersections/ks-0042/spat"])
def test_public_feeds_are_open_to_every_origin(hub: HubProcess, path: str) -> None:
    with client(hub) as http:
        answer = http.get(path, headers={"Origin": ORIGIN})
        assert answer.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in answer.headers
        preflight = http.options(path, headers={
            "Origin": ORIGIN, "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "if-none-match"})
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == "*"
        allowed = preflight.headers["access-control-allow-methods"]
        assert "GET" in allowed and "POST" not in allowed and "PUT" not in allowed


CLOSED_ROUTES = [
    ("POST", "/api/v1/devices"), ("DELETE", "/api/v1/devices/bus-1"),
    ("POST", "/api/v1/devices/bus-1/commands"), ("POST", "/api/v1/alarms/1/ack"),
    ("POST", "/api/v1/kita/families"), ("POST", "/api/v1/kita/applications"),
    ("PUT", "/api/v1/kita/period"), ("GET", "/api/v1/kita/applications"),
    ("GET", "/api/v1/whoami"), ("GET", "/api/v1/ingest"), ("GET", "/")]


@pytest.mark.parametrize(("method", "path"), CLOSED_ROUTES)
def test_nothing_else_allows_another_origin(hub: HubProcess, method: str, path: str) -> None:
    # an address per case: the 401s of one case do not bring another over its limit
    address = f"127.0.1.{CLOSED_ROUTES.index((method, path)) + 1}"
    with client(hub, address) as http:
        preflight = http.options(path, headers={
            "Origin": ORIGIN, "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type"})
        assert "access-control-allow-origin" not in preflight.headers, preflight.headers
        assert "access-control-allow-methods" not in preflight.headers
        answer = http.request(method, path, headers={"Origin": ORIGIN})
        assert answer.status_code != 429
        assert "access-control-allow-origin" not in answer.headers


# -- rate limits ----------------------------------------------------------------------------


def assert_429(answer: httpx.Response) -> int:
    """A clear refusal: 429, ``Retry-After`` in whole seconds, a JSON ``detail``."""
    assert answer.status_code == 429, answer.text
    seconds = int(answer.headers["retry-after"])
    assert seconds >= 1
    assert answer.headers["content-type"] == "application/json"
    assert "too many requests" in answer.json()["detail"]
    return seconds


def test_repeated_401s_from_one_address_get_429(hub: HubProcess) -> None:
    bad = bearer("guessed-token")
    with client(hub, "127.0.0.4") as guesser:
        for n in range(AUTH_FAILURE_BURST):
            path = "/api/v1/kita/applications" if n % 2 else "/api/v1/alarms/1/ack"
            method = "GET" if n % 2 else "POST"
            assert guesser.request(method, path, headers=bad).status_code == 401
        seconds = assert_429(guesser.get("/api/v1/kita/applications", headers=bad))
        assert seconds <= 60  # one more guess a minute
        # blocked as a whole, also with a good token: the guesser cannot tell a hit
        assert_429(guesser.get("/api/v1/kita/applications", headers=bearer(STAFF)))
    with client(hub, "127.0.0.5") as neighbour:
        assert neighbour.get("/api/v1/kita/applications", headers=bad).status_code == 401
        assert neighbour.get("/api/v1/ingest").status_code == 200
    # good tokens are never counted
    with client(hub, "127.0.0.6") as staff:
        for _ in range(3 * AUTH_FAILURE_BURST):
            assert staff.get("/api/v1/kita/applications",
                             headers=bearer(STAFF)).status_code == 200
            assert staff.get("/api/v1/alarms", headers=bearer(ADMIN)).status_code == 200


def _open_period(http: httpx.Client) -> None:
    body = {"name": "Kita Sonnenschein", "capacity": 2, "lat": 51.3155, "lon": 9.4975,
            "catchment_km": 1.0}
    assert http.put("/api/v1/kita/kitas/K1/U3", json=body,
                    headers=bearer(STAFF)).status_code in (200, 201)
    deadline = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert http.put("/api/v1/kita/period", json={"deadline": deadline},
                    headers=bearer(STAFF)).status_code == 200


def _application(name: str) -> dict[str, Any]:
    return {"child_name": name, "date_of_birth": "2024-05-01", "age_group": "U3",
            "choices": ["K1"], "sibling_kita": None, "hardship": False,
            "lat": 51.3160, "lon": 9.4980}


def test_kita_application_writes_are_limited_per_address(hub: HubProcess) -> None:
    with client(hub, "127.0.0.7") as family_pc:
        _open_period(family_pc)  # staff's writes from the same address are not counted
        token = family_pc.post("/api/v1/kita/families").json()["token"]
        first = family_pc.post("/api/v1/kita/applications", headers=bearer(token),
                               json=_application("Mia Muster"))
        assert first.status_code == 201, first.text
        child = first.json()["child_id"]
        changed = family_pc.put(f"/api/v1/kita/applications/{child}", headers=bearer(token),
                                json=_application("Mia Muster"))
        assert changed.status_code == 200, changed.text
        assert family_pc.delete(f"/api/v1/kita/applications/{child}",
                                headers=bearer(token)).status_code == 204
        assert_429(family_pc.post("/api/v1/kita/applications", headers=bearer(token),
                                  json=_application("Max Muster")))
        # reading is not limited
        assert family_pc.get("/api/v1/kita/applications",
                             headers=bearer(token)).status_code == 200
    with client(hub, "127.0.0.8") as other_pc:
        second = other_pc.post("/api/v1/kita/applications", headers=bearer(token),
                               json=_application("Max Muster"))
        assert second.status_code == 201, second.text


# -- body limits ----------------------------------------------------------------------------


def _operations(hub: HubProcess) -> list[tuple[str, str, int]]:
    """(method, path with its parameters filled in, body limit) of every hub operation, plus
    the pages outside the OpenAPI document and a path that matches no route."""
    spec = hub.http.get("/openapi.json").json()
    out = []
    for template, operations in spec["paths"].items():
        path = re.sub(r"\{[^}]+\}", "x1", template)
        for method, operation in operations.items():
            out.append((method.upper(), path, int(operation.get("x-max-body-bytes",
                                                                HUB_BODY_LIMIT))))
    out += [("GET", page, HUB_BODY_LIMIT) for page in HUB_PAGES]
    out += [("POST", "/no/such/route", HUB_BODY_LIMIT), ("PUT", "/static/x", HUB_BODY_LIMIT)]
    return out


def test_every_hub_route_refuses_an_oversized_body_with_413(hub: HubProcess) -> None:
    operations = _operations(hub)
    assert len(operations) > 30
    refused = []
    with client(hub, "127.0.0.11") as http:
        for method, path, limit in operations:
            answer = http.request(method, path, content=b"{" + b" " * limit + b"}",
                                  headers={"Content-Type": "application/json",
                                           **bearer(ADMIN)})
            refused.append((method, path, answer.status_code))
    assert {status for _, _, status in refused} == {413}, [r for r in refused if r[2] != 413]


# -- the captive portal ---------------------------------------------------------------------


@pytest.fixture
def portal(broker: MosquittoBroker, tmp_path: Path) -> Iterator[BusGatewayProcess]:
    bus = BusGatewayProcess(tmp_path, broker.url, wlan={
        "accept_burst": PORTAL_ACCEPT_BURST, "accept_per_minute": 1})
    bus.start()
    yield bus
    bus.stop()


def test_portal_headers_accept_limit_and_body_limits(portal: BusGatewayProcess) -> None:
    own = {"Host": f"10.77.0.1:{portal.port}"}
    with httpx.Client(base_url=portal.url, timeout=10) as http:
        page = http.get("/", headers=own)
        assert page.status_code == 200 and "Nutzungsbedingungen" in page.text
        csp = directives(page.headers["content-security-policy"])
        assert csp["default-src"] == "'none'" and csp["frame-ancestors"] == "'none'"
        assert "script-src" not in csp and csp["style-src"] == "'self'"
        assert "<script" not in page.text and "<style" not in page.text
        assert " style=" not in page.text
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["x-frame-options"] == "DENY"
        css = http.get("/portal.css", headers=own)
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        redirect = http.get("/generate_204", headers={"Host": "connectivitycheck.example"})
        assert redirect.status_code == 302 and redirect.headers["x-frame-options"] == "DENY"
        assert "access-control-allow-origin" not in page.headers
        # every POST route: a body over the limit is refused before it is read
        for path in ("/accept", "/some/intercepted/form"):
            big = http.post(path, content=b"x" * (PORTAL_BODY_LIMIT + 1), headers=own)
            assert big.status_code == 413, (path, big.text)
        # /accept: this client is not a passenger (403), and after the burst it is 429
        answers = [http.post("/accept", data={"lang": "en"},
                             headers={**own, "Accept": "application/json"})
                   for _ in range(PORTAL_ACCEPT_BURST + 1)]
        assert [a.status_code for a in answers[:-1]] == [403] * PORTAL_ACCEPT_BURST
        assert_429(answers[-1])
        assert answers[-1].headers["x-content-type-options"] == "nosniff"
        # the rest of the portal still answers
        assert http.get("/api/captive").status_code == 200
