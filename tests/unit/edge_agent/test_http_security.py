"""The shared web-surface pieces: rate limiter, 429 middleware, security headers, log scrubbing.

Driven in process (Starlette's test client, a fake clock); the same behaviour over real HTTP
against ``kassel hub`` and ``kassel bus`` is in ``tests/hostile/test_web_hardening.py``.
"""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from edge_agent.http_headers import HSTS, PAGE_CSP, SecurityHeaders
from edge_agent.http_logs import ScrubClientDetails, scrub
from edge_agent.http_ratelimit import FailureRule, RateLimit, RouteRule
from edge_agent.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _ok(request: Request) -> Response:
    if request.headers.get("authorization") == "Bearer good":
        return JSONResponse({"ok": True})
    if "authorization" in request.headers:
        return JSONResponse({"detail": "bad token"}, 401)
    return JSONResponse({"ok": True})


async def _page(request: Request) -> Response:
    return HTMLResponse("<p>hi</p>")


async def _own_policy(request: Request) -> Response:
    return HTMLResponse("<p>hi</p>", headers={"Content-Security-Policy": "default-src 'self'"})


ROUTES = [Route("/ok", _ok, methods=["GET", "POST"]), Route("/page", _page),
          Route("/own", _own_policy), Route("/items/{item}", _ok, methods=["PUT", "GET"])]


def test_wait_neither_uses_a_request_nor_remembers_an_address() -> None:
    clock = Clock()
    limiter = RateLimiter(burst=2, period_s=10.0, max_clients=1, clock=clock)
    assert limiter.wait("192.0.2.1") == 0.0
    assert limiter.take("192.0.2.2") == 0.0
    assert limiter.wait("192.0.2.1") == 0.0 and limiter.take("192.0.2.2") == 0.0
    assert limiter.wait("192.0.2.2") == 10.0  # both used; one back in 10 s
    clock.now += 5
    assert limiter.wait("192.0.2.2") == 5.0
    assert limiter.take("2001:db8::1") == 0.0  # pushes 192.0.2.2 out (max_clients=1)
    assert limiter.wait("192.0.2.2") == 0.0


def _limited(clock: Clock, *, burst: int) -> TestClient:
    writes = RateLimiter(burst=burst, period_s=30.0, clock=clock)
    failures = RateLimiter(burst=burst, period_s=60.0, clock=clock)
    app = Starlette(routes=ROUTES)
    app.add_middleware(RateLimit, routes=RouteRule.templates("PUT", ["/items/{item}"], writes),
                       failures=[FailureRule(frozenset({401}), failures)])
    return TestClient(app)


def test_a_route_rule_counts_matching_requests_and_answers_429_with_retry_after() -> None:
    clock = Clock()
    http = _limited(clock, burst=2)
    assert [http.put(f"/items/{n}").status_code for n in range(3)] == [200, 200, 429]
    refused = http.put("/items/9")
    assert refused.headers["retry-after"] == "30"
    assert refused.json() == {"detail": "too many requests; try again in 30 s"}
    assert http.get("/items/1").status_code == 200  # reading is not limited
    clock.now += 30
    assert http.put("/items/1").status_code == 200


def test_a_failure_rule_counts_401s_only_then_refuses_everything() -> None:
    clock = Clock()
    http = _limited(clock, burst=3)
    for _ in range(10):
        assert http.get("/ok", headers={"Authorization": "Bearer good"}).status_code == 200
    assert [http.get("/ok", headers={"Authorization": "Bearer bad"}).status_code
            for _ in range(3)] == [401] * 3
    blocked = http.get("/ok")
    assert blocked.status_code == 429 and blocked.headers["retry-after"] == "60"
    assert http.get("/ok", headers={"Authorization": "Bearer good"}).status_code == 429
    clock.now += 60
    assert http.get("/ok", headers={"Authorization": "Bearer good"}).status_code == 200


def _secured() -> Starlette:
    app = Starlette(routes=ROUTES)
    app.add_middleware(SecurityHeaders)
    return app


def test_every_answer_gets_the_headers_and_html_a_policy_with_frame_ancestors() -> None:
    http = TestClient(_secured())
    page = http.get("/page")
    assert page.headers["content-security-policy"] == PAGE_CSP
    assert "'unsafe-inline'" not in PAGE_CSP and "frame-ancestors 'none'" in PAGE_CSP
    own = http.get("/own").headers["content-security-policy"]
    assert own == "default-src 'self'; frame-ancestors 'none'"
    for answer in (page, http.get("/ok"), http.get("/missing")):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["x-frame-options"] == "DENY"
        assert "strict-transport-security" not in answer.headers
    assert "content-security-policy" not in http.get("/ok").headers  # JSON: no page


def test_hsts_only_over_tls() -> None:
    over_tls = TestClient(_secured(), base_url="https://hub.example")
    assert over_tls.get("/ok").headers["strict-transport-security"] == HSTS


def test_scrub_removes_client_addresses_and_query_strings_only() -> None:
    assert scrub("127.0.0.12:46831") == "-"
    assert scrub("::1:5555") == "-" and scrub("[2001:db8::7]:443") == "-"
    assert scrub("/api/v1/kita/families?contact=a%40b.example") == "/api/v1/kita/families"
    assert scrub("/ws/spat?intersection=ks-1") == "/ws/spat"
    assert scrub("GET") == "GET" and scrub("HTTP/1.1") == "HTTP/1.1"
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d',
                               ("10.0.0.5:5000", "GET", "/x?token=abc", "1.1", 200), None)
    assert ScrubClientDetails().filter(record)
    assert record.getMessage() == '- - "GET /x HTTP/1.1" 200'
