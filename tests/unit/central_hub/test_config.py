"""Broker URLs and the resolution of config, settings and ``--broker``."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from central_hub.core.config import HubSettings, resolve
from central_hub.core.identity import Role
from central_hub.core.resolver import IdentityResolver, static_tokens
from edge_agent.contract.configs import HubConfig
from edge_agent.errors import ConfigError


def test_broker_url_parsing() -> None:
    cfg = HubConfig.model_validate({"device_id": "hub-1", "kind": "hub",
                                    "mqtt": {"insecure": True}})
    rt = resolve(cfg, HubSettings(), "mqtt://hub-1:p%40ss@broker:1884")
    assert (rt.broker.host, rt.broker.port, rt.broker.username, rt.broker.password,
            rt.broker.tls) == ("broker", 1884, "hub-1", "p@ss", False)
    assert resolve(cfg, HubSettings(), "mqtts://h").broker.port == 8883
    with pytest.raises(ConfigError, match="--broker"):
        resolve(cfg, HubSettings(), "http://h")


def test_override_and_password_file(tmp_path: pytest.TempPathFactory) -> None:
    pw = tmp_path / "pw"  # type: ignore[operator]
    pw.write_text("s3cret\n")
    cfg = HubConfig.model_validate({"device_id": "hub-1", "kind": "hub", "mqtt": {
        "broker": "mqtt://a:1", "insecure": True, "username": "hub-1",
        "password_file": str(pw)}})
    rt = resolve(cfg, HubSettings(), "mqtt://b:2")
    assert (rt.broker.host, rt.broker.port, rt.broker.username, rt.broker.password) == (
        "b", 2, "hub-1", "s3cret")


def test_plain_mqtt_needs_insecure_in_the_file_and_for_an_override() -> None:
    with pytest.raises(ValidationError, match="plain MQTT without TLS"):
        HubConfig.model_validate({"device_id": "hub-1", "kind": "hub",
                                  "mqtt": {"broker": "mqtt://a:1"}})
    tls_only = HubConfig.model_validate({"device_id": "hub-1", "kind": "hub"})
    assert tls_only.mqtt.broker.startswith("mqtts://")
    with pytest.raises(ConfigError, match=r"--broker: mqtt://b:2 is plain MQTT") as err:
        resolve(tls_only, HubSettings(), "mqtt://hub-1:s3cret@b:2")
    assert "s3cret" not in str(err.value)  # never repeated in an error
    assert resolve(tls_only, HubSettings(), "mqtts://b:2").broker.tls


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KASSEL_HUB_INGEST__QUEUE_SIZE", "1234")
    monkeypatch.setenv("KASSEL_HUB_RETENTION__RAW_DAYS", "3")
    s = HubSettings()
    assert s.ingest.queue_size == 1234 and s.retention.raw_days == 3


def test_static_tokens_grant_role_sets() -> None:
    """The settings' static tokens: admin is admin and engineer but not Kita staff; the Kita
    staff token is Kita staff only."""
    resolver = IdentityResolver(static_tokens(HubSettings(
        admin_token="a", engineer_token="e", kita_staff_token="k")))
    roles = {t: (p.roles if (p := resolver.resolve(t)) is not None else None)
             for t in ("a", "e", "k", "x", None)}
    assert roles == {"a": {Role.ADMIN, Role.ENGINEER}, "e": {Role.ENGINEER},
                     "k": {Role.KITA_STAFF}, "x": None, None: None}


def test_kita_and_oidc_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KASSEL_HUB_KITA_STAFF_TOKEN", "city-hall")
    monkeypatch.setenv("KASSEL_HUB_KITA__DATABASE", "sqlite:////srv/kita.db")
    monkeypatch.setenv("KASSEL_HUB_KITA__MAX_CHILDREN_PER_FAMILY", "3")
    monkeypatch.setenv("KASSEL_HUB_OIDC__ISSUER", "https://login.example/realms/city")
    monkeypatch.setenv("KASSEL_HUB_OIDC__AUDIENCE", "kassel-hub")
    monkeypatch.setenv("KASSEL_HUB_OIDC__JWKS_URL", "https://login.example/certs")
    monkeypatch.setenv("KASSEL_HUB_OIDC__ROLE_MAP", '{"traffic": "engineer"}')
    s = HubSettings()
    assert s.kita_staff_token == "city-hall"
    assert (s.kita.database, s.kita.max_children_per_family) == ("sqlite:////srv/kita.db", 3)
    assert s.oidc.enabled and s.oidc.role_map == {"traffic": Role.ENGINEER}


def test_oidc_settings_are_all_or_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KASSEL_HUB_OIDC__ISSUER", "https://login.example/realms/city")
    with pytest.raises(ValueError, match="together"):
        HubSettings()
