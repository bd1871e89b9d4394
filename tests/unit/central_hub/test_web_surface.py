"""The hub's web-surface wiring: rate-limit settings, the learning dependency, the feed list."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from central_hub.api.cors import FEED_TAG, feed_paths
from central_hub.api.ratelimits import HubLimiters, LearningAnswerDep
from central_hub.app import create_app
from central_hub.core.config import HubSettings, RateLimitsSettings
from edge_agent.contract.configs import HubConfig


def test_one_number_of_a_limit_can_be_changed_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KASSEL_HUB_RATE_LIMITS__KITA_WRITES__BURST", "7")
    limits = HubSettings().rate_limits
    assert limits.kita_writes.burst == 7
    assert limits.kita_writes.per_minute == 10.0  # the default stays
    assert limits.auth_failures.burst == 60 and limits.learning_answers.burst == 300


def test_the_learning_dependency_answers_429_with_retry_after() -> None:
    settings = RateLimitsSettings.model_validate(
        {"learning_answers": {"burst": 2, "per_minute": 1}})
    app = FastAPI()
    app.state.limiters = HubLimiters.of(settings)

    @app.post("/check")
    def check(_: LearningAnswerDep) -> dict[str, bool]:
        return {"correct": True}

    http = TestClient(app)
    assert [http.post("/check").status_code for _ in range(2)] == [200, 200]
    refused = http.post("/check")
    assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
    assert "too many requests" in refused.json()["detail"]


def test_the_open_feeds_are_the_get_operations_tagged_feeds() -> None:
    app = create_app(HubConfig(device_id="hub-1", kind="hub"))
    feeds = feed_paths(app)
    assert any(p.fullmatch("/gtfs-rt/vehicle-positions") for p in feeds)
    assert any(p.fullmatch("/api/v1/intersections/ks-1/spat") for p in feeds)
    for closed in ("/api/v1/devices", "/api/v1/kita/applications", "/api/v1/alarms", "/",
                   "/api/v1/whoami", "/docs"):
        assert not any(p.fullmatch(closed) for p in feeds), closed
    # a feed is read-only: nothing tagged feeds takes a body
    for operations in app.openapi()["paths"].values():
        for method, operation in operations.items():
            if FEED_TAG in operation.get("tags", ()):
                assert method == "get", operation["operationId"]
