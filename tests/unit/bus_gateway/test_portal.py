"""The captive portal over the simulated dataplane: pages, probes, RFC 8908, accept."""

from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient

from bus_gateway.portal import create_portal_app
from bus_gateway.wlan import SimulatedDataplane, WlanGateway
from edge_agent.contract.configs import WlanConfig

PHONE_MAC = "02:aa:bb:cc:dd:01"
PHONE_IP = "10.77.0.23"


class Clock:
    def __init__(self) -> None:
        self.ms = 1_767_225_600_000

    def __call__(self) -> int:
        return self.ms


@pytest.fixture
def wlan():
    cfg = WlanConfig(backend="simulated", interface="wlan0", uplink="wwan0",
                     per_client_kbps=2000, uplink_kbps=3000, session_timeout_min=60,
                     idle_timeout_min=5)
    dp = SimulatedDataplane()
    dp.station_joined(PHONE_MAC, PHONE_IP)
    return WlanGateway(cfg, dp, Clock())


@pytest.fixture
def phone(wlan):
    return TestClient(create_portal_app(wlan), base_url="http://10.77.0.1:8080",
                      client=(PHONE_IP, 50000))


def test_terms_page_in_both_languages_for_phones(phone):
    de = phone.get("/", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert de.status_code == 200
    assert 'name="viewport"' in de.text and "Nutzungsbedingungen" in de.text
    assert 'action="/accept"' in de.text and "2000 kbit/s" in de.text
    en = phone.get("/?lang=en")
    assert "terms of use" in en.text and 'lang="en"' in en.text


@pytest.mark.parametrize("path", ["/generate_204", "/hotspot-detect.html", "/connecttest.txt"])
def test_os_probes_redirect_until_accepted(phone, path):
    r = phone.get(path, headers={"Host": "connectivitycheck.example"}, follow_redirects=False)
    assert r.status_code == 302
    assert r.headers["location"].startswith("http://10.77.0.1:8080/?next=")


def test_intercepted_http_redirects_to_portal(phone):
    r = phone.get("/news/today", headers={"Host": "example.org"}, follow_redirects=False)
    assert r.status_code == 302
    assert r.headers["location"].startswith("http://10.77.0.1:8080/")
    assert phone.get("/nope", follow_redirects=False).status_code == 404


def test_accept_admits_by_mac_and_ip_and_probes_then_succeed(phone, wlan):
    api = phone.get("/api/captive")
    assert api.headers["content-type"].startswith("application/captive+json")
    assert api.json() == {"captive": True, "user-portal-url": "http://10.77.0.1:8080/"}
    r = phone.post("/accept", data={"accept": "yes", "lang": "en",
                                    "next": "http://example.org/"})
    assert r.status_code == 200 and "You are online" in r.text
    assert "http://example.org/" in r.text
    assert wlan.dataplane.admitted == {PHONE_MAC: PHONE_IP}
    api = phone.get("/api/captive").json()
    assert api["captive"] is False and api["seconds-remaining"] == 3600
    assert phone.get("/generate_204").status_code == 204
    assert phone.get("/hotspot-detect.html").text.count("Success") == 2
    assert phone.get("/connecttest.txt").text == "Microsoft Connect Test"


def test_accept_from_outside_the_passenger_lan_is_refused(wlan):
    client = TestClient(create_portal_app(wlan), base_url="http://10.77.0.1:8080",
                        client=("192.168.1.5", 40000))
    r = client.post("/accept", headers={"Accept": "application/json"})
    assert r.status_code == 403 and r.json()["admitted"] is False
    assert wlan.dataplane.admitted == {}


def test_fair_share_rerating_and_timeouts(wlan):
    dp = wlan.dataplane
    dp.station_joined("02:aa:bb:cc:dd:02", "10.77.0.24")

    async def scenario():
        await wlan.accept(PHONE_IP)
        await wlan.accept("10.77.0.24")
        await wlan.shaped()  # shaping follows the answer in the background
        assert dp.rates == {PHONE_IP: 1500, "10.77.0.24": 1500}
        assert await wlan.set_uplink_kbps(10_000) == 2000
        assert dp.rates == {PHONE_IP: 2000, "10.77.0.24": 2000}
        await wlan.tick()
        assert wlan.stats().clients_associated == 2
        assert wlan.stats().clients_authenticated == 2
        wlan._now.ms += 5 * 60_000  # idle timeout
        dp.station_left("02:aa:bb:cc:dd:02")
        dp.station_left(PHONE_MAC)
        await wlan.tick()
        await wlan.shaped()
        assert dp.admitted == {} and dp.rates == {}
        dp.station_joined(PHONE_MAC, "10.77.0.30")  # returns within its session
        await wlan.tick()
        assert dp.admitted == {PHONE_MAC: "10.77.0.30"}
        wlan._now.ms += 60 * 60_000  # session over
        await wlan.tick()
        await wlan.shaped()
        assert dp.admitted == {}
        assert wlan.status("10.77.0.30").admitted is False

    asyncio.run(scenario())


async def until(condition, steps=100):
    """Let other tasks run until ``condition()`` holds (no clock involved)."""
    for _ in range(steps):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


class GatedDataplane(SimulatedDataplane):
    """Shaping requests run in order, each once ``gate`` is open (a slow kernel).

    ``passes`` counts re-rating passes (requests that change or remove classes); ``events``
    records when a client's class was put and when its firewall element went in.
    """

    def __init__(self) -> None:
        super().__init__()
        self.passes = 0
        self.gate = asyncio.Event()
        self.events: list[tuple[str, str]] = []
        self._last: asyncio.Future[None] | None = None

    def shape(self, diff, uplink_kbps):
        if diff.change or diff.remove:
            self.passes += 1
        previous = self._last

        async def run() -> None:
            if previous is not None:
                await asyncio.wait([previous])
            await self.gate.wait()
            SimulatedDataplane.shape(self, diff, uplink_kbps)
            self.events += [("class", c.ip) for c in diff.add]

        self._last = asyncio.ensure_future(run())
        return self._last

    def submit(self, change, after=None):
        done = super().submit(change, after)

        def record(fut) -> None:
            if not fut.cancelled() and fut.exception() is None:
                self.events += [("admit", str(ip)) for _, ip in change.admit]

        done.add_done_callback(record)
        return done


def test_boarding_during_a_rerating_pass_waits_for_classes_then_shares_one_more_pass():
    cfg = WlanConfig(backend="simulated", interface="wlan0", uplink="wwan0",
                     per_client_kbps=2000, uplink_kbps=3000, session_timeout_min=60,
                     idle_timeout_min=5)
    dp = GatedDataplane()
    ips = [f"10.77.0.{100 + k}" for k in range(10)]
    for k, ip in enumerate(ips):
        dp.station_joined(f"02:00:00:00:00:{k:02x}", ip)
    wlan = WlanGateway(cfg, dp, Clock())

    async def scenario():
        dp.gate.set()
        await wlan.accept(ips[0])
        await wlan.shaped()
        dp.gate.clear()
        rerate = asyncio.create_task(wlan.set_uplink_kbps(1000))  # stuck in the "kernel"
        await until(lambda: dp.passes == 1)
        boarding = asyncio.gather(*(wlan.accept(ip) for ip in ips[1:]))  # boarding at a stop
        for _ in range(20):
            await asyncio.sleep(0)
        # nobody is let through before the class: theirs queue behind the running pass
        assert list(dp.admitted.values()) == [ips[0]]
        dp.gate.set()
        await boarding
        await rerate
        assert sorted(dp.admitted.values()) == sorted(ips)
        for ip in ips:  # each class existed before the firewall admitted its client
            assert dp.events.index(("class", ip)) < dp.events.index(("admit", ip))
        await wlan.shaped()
        assert dp.passes == 2  # not ten: the nine share the pass after the running one
        assert dp.rates == dict.fromkeys(ips, 100)  # everybody at uplink / n

    asyncio.run(scenario())


class SlowLookupDataplane(GatedDataplane):
    """The MAC lookup of ``slow_ip`` waits for ``lookup_gate`` (an admission in flight)."""

    def __init__(self, slow_ip: str) -> None:
        super().__init__()
        self.gate.set()
        self.slow_ip = slow_ip
        self.lookup_gate = asyncio.Event()

    async def lookup_mac(self, ip):
        if str(ip) == self.slow_ip:
            await self.lookup_gate.wait()
        return await super().lookup_mac(ip)


def test_shaping_waits_for_admissions_in_flight_then_covers_them_in_one_pass(wlan):
    dp = SlowLookupDataplane("10.77.0.24")
    dp.station_joined(PHONE_MAC, PHONE_IP)
    dp.station_joined("02:aa:bb:cc:dd:02", "10.77.0.24")
    wlan.dataplane = dp

    async def scenario():
        second = asyncio.create_task(wlan.accept("10.77.0.24"))
        await asyncio.sleep(0)  # its MAC lookup is under way
        await wlan.accept(PHONE_IP)  # admitted at once, its shaping is due
        for _ in range(5):
            await asyncio.sleep(0)
        assert dp.passes == 0  # the pass holds back while the other admission runs
        dp.lookup_gate.set()
        await second
        await wlan.shaped()
        assert dp.passes == 1
        assert dp.rates == {PHONE_IP: 1500, "10.77.0.24": 1500}

    asyncio.run(scenario())


def test_a_stream_of_admissions_does_not_starve_shaping(wlan, monkeypatch):
    monkeypatch.setattr("bus_gateway.wlan.ADMISSIONS_FIRST_S", 0.01)
    dp = SlowLookupDataplane("10.77.0.24")  # this admission never finishes
    dp.station_joined(PHONE_MAC, PHONE_IP)
    wlan.dataplane = dp

    async def scenario():
        stuck = asyncio.create_task(wlan.accept("10.77.0.24"))
        await asyncio.sleep(0)
        await wlan.accept(PHONE_IP)
        await asyncio.wait_for(wlan.shaped(), 1.0)  # the pass ran after at most 10 ms
        # it found nothing to change: the placement already gave the client its share
        assert dp.passes == 0 and dp.rates == {PHONE_IP: 2000}
        stuck.cancel()

    asyncio.run(scenario())


def test_pages_have_no_inline_style_and_a_policy_without_script(phone):
    page = phone.get("/")
    assert "<style" not in page.text and " style=" not in page.text
    assert '<link rel="stylesheet" href="/portal.css">' in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp
    css = phone.get("/portal.css")
    assert css.headers["content-type"].startswith("text/css") and "body{" in css.text


def test_accept_is_rate_limited_per_passenger(wlan):
    app = create_portal_app(wlan)
    phone = TestClient(app, base_url="http://10.77.0.1:8080", client=(PHONE_IP, 50000))
    stranger = TestClient(app, base_url="http://10.77.0.1:8080", client=("10.77.0.99", 1))
    burst = wlan.config.accept_burst
    answers = [phone.post("/accept", data={"lang": "en"}) for _ in range(burst + 1)]
    assert [a.status_code for a in answers[:-1]] == [200] * burst
    assert answers[-1].status_code == 429 and int(answers[-1].headers["retry-after"]) >= 1
    assert stranger.post("/accept").status_code != 429  # another address: its own bucket


def test_the_learning_platform_is_linked_before_accepting_when_configured():
    learning = "http://10.0.0.5/lernen/"
    cfg = WlanConfig(backend="simulated", interface="wlan0", uplink="wwan0",
                     per_client_kbps=2000, uplink_kbps=3000, walled_garden=["10.0.0.5"],
                     learning_url=learning)
    dp = SimulatedDataplane()
    dp.station_joined(PHONE_MAC, PHONE_IP)
    phone = TestClient(create_portal_app(WlanGateway(cfg, dp, Clock())),
                       base_url="http://10.77.0.1:8080", client=(PHONE_IP, 50000))
    de, en = phone.get("/"), phone.get("/?lang=en")
    assert f'href="{learning}"' in de.text and "Digitale Lernhilfe" in de.text
    assert f'href="{learning}"' in en.text and "before you accept" in en.text


def test_without_a_learning_url_the_portal_links_nothing(phone):
    assert "Lernhilfe" not in phone.get("/").text
