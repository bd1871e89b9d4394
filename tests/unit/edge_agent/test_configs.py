"""Config files: models, error messages naming file and field, and the CLI's exit codes."""

from __future__ import annotations

import json
from ipaddress import IPv4Address
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from edge_agent.cli import main
from edge_agent.contract.configs import (
    BusConfig,
    IntersectionConfig,
    WlanConfig,
    learning_host,
    load_config,
)
from edge_agent.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
CONFIGS = ROOT / "firmware_configs"

INTERSECTION = {
    "device_id": "ks-0042",
    "kind": "intersection",
    "name": "Holländischer Platz",
    "location": {"lat": 51.3227, "lon": 9.5067},
    "signal_groups": [
        {"sg": "K1", "kind": "vehicle", "approach": "N", "min_green_s": 5, "amber_s": 3,
         "red_amber_s": 1},
        {"sg": "K2", "kind": "vehicle", "approach": "E", "min_green_s": 5, "amber_s": 3,
         "red_amber_s": 1},
    ],
    "intergreen_s": {"K1": {"K2": 5}, "K2": {"K1": 4}},
    "control": {"mode": "fixed_time", "cycle_s": 60, "greens": {"K1": [[0, 20]],
                                                                 "K2": [[30, 50]]}},
}


def _write(tmp_path: Path, data: object, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_every_shipped_config_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    files = sorted(CONFIGS.rglob("*.yaml"))
    assert any("intersections" in str(f) for f in files)
    assert any("buses" in str(f) for f in files)
    assert main(["config", "validate", str(CONFIGS)]) == 0
    out = capsys.readouterr().out
    assert out.count(": ok") == len(files)


def test_a_valid_intersection_loads(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, INTERSECTION))
    assert isinstance(cfg, IntersectionConfig)
    assert cfg.group("K2").min_green_s == 5
    assert cfg.mqtt.topic_root == "kassel/v1"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda d: d.pop("name"), "name", "Field required"),
        (lambda d: d["signal_groups"][0].update(min_green_s=-1), "signal_groups[0].min_green_s",
         "greater than 0"),
        (lambda d: d["intergreen_s"]["K2"].pop("K1"), "intergreen_s.K2.K1",
         "both directions"),
        (lambda d: d["intergreen_s"]["K1"].update(X9=3), "intergreen_s.K1.X9",
         "unknown signal group"),
        (lambda d: d["control"].update(greens={"K1": [[0, 90]]}), "greens.K1", "outside"),
        (lambda d: d.update(typo_field=1), "typo_field", "Extra inputs"),
        (lambda d: d.update(device_id="bad id"), "device_id", "pattern"),
        (lambda d: d.update(kind="toaster"), "kind", "must be one of"),
        (lambda d: d.update(priority={"emergency_vehicles": ["RTW 1"]}),
         "priority.emergency_vehicles[0]", "pattern"),
        (lambda d: d.update(priority={"emergency_vehicles": ["rtw-1", "rtw-1"]}),
         "priority", "emergency_vehicles: duplicate rtw-1"),
        (lambda d: [g.update(its_sg=3) for g in d["signal_groups"]], "signal_groups",
         "its_sg 3 is used by K1, K2"),
        (lambda d: d["signal_groups"][0].update(its_sg=0), "signal_groups[0].its_sg",
         "greater than or equal to 1"),
        (lambda d: d["signal_groups"][0].update(its_sg=256), "signal_groups[0].its_sg",
         "less than or equal to 255"),
        (lambda d: d.update(its={"station_id": 7, "intersection_id": 42}), "signal_groups",
         "K1, K2 have no its_sg"),
        (lambda d: d.update(its={"station_id": 7, "intersection_id": 65536}),
         "its.intersection_id", "less than or equal to 65535"),
        (lambda d: d.update(its={"station_id": 2**32, "intersection_id": 1}),
         "its.station_id", "less than or equal to 4294967295"),
        (lambda d: d.update(its={"station_id": 1, "intersection_id": 1, "region": -1}),
         "its.region", "greater than or equal to 0"),
    ],
)
def test_broken_intersection_names_file_and_field(
    tmp_path: Path, change: object, field: str, words: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = json.loads(json.dumps(INTERSECTION))
    change(data)  # type: ignore[operator]
    path = _write(tmp_path, data, "broken.yaml")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert str(path) in text
    assert field in text
    assert words in text
    assert main(["config", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err
    assert field in err


def test_the_its_identity_is_optional_and_loads(tmp_path: Path) -> None:
    data = json.loads(json.dumps(INTERSECTION))
    assert load_config(_write(tmp_path, data)).its is None  # type: ignore[union-attr]
    data["its"] = {"station_id": 561000042, "region": 3, "intersection_id": 42}
    for n, group in enumerate(data["signal_groups"], start=1):
        group["its_sg"] = n
    cfg = load_config(_write(tmp_path, data))
    assert isinstance(cfg, IntersectionConfig) and cfg.its is not None
    assert (cfg.its.station_id, cfg.its.region, cfg.its.intersection_id) == (561000042, 3, 42)
    assert [g.its_sg for g in cfg.signal_groups] == [1, 2]


def test_every_shipped_intersection_has_its_its_identity() -> None:
    for path in sorted((CONFIGS / "intersections").glob("*.yaml")):
        cfg = load_config(path)
        assert isinstance(cfg, IntersectionConfig) and cfg.its is not None, path
        assert all(g.its_sg is not None for g in cfg.signal_groups), path


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("device_id: x\nkind: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.yaml: not valid YAML: line \d+"):
        load_config(path)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")


def test_bus_config_checks_capacities(tmp_path: Path) -> None:
    data = yaml.safe_load((CONFIGS / "buses" / "bus-1234.yaml").read_text(encoding="utf-8"))
    assert isinstance(load_config(_write(tmp_path, data)), BusConfig)
    data["vehicle"]["capacity_total"] = 10
    with pytest.raises(ConfigError, match=r"vehicle: .*capacity_total 10 < capacity_seated 40"):
        load_config(_write(tmp_path, data))


def test_schema_command_prints_every_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "schema"]) == 0
    schemas = json.loads(capsys.readouterr().out)
    assert set(schemas) == {"bus", "intersection", "hub"}
    assert "signal_groups" in schemas["intersection"]["properties"]


def test_validate_without_files_is_bad_usage(tmp_path: Path) -> None:
    assert main(["config", "validate", str(tmp_path)]) == 2


def test_unknown_subcommand_exits_2() -> None:
    with pytest.raises(SystemExit) as info:
        main(["no-such-command"])
    assert info.value.code == 2


def test_configs_default_to_tls_and_plain_mqtt_needs_insecure(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, INTERSECTION))
    assert cfg.mqtt.broker == "mqtts://localhost:8883" and not cfg.mqtt.insecure
    plain = {**INTERSECTION, "mqtt": {"broker": "mqtt://broker.kassel.example:1883"}}
    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, plain))
    assert str(err.value).count("\n") == 0  # one line, naming file and field
    assert str(err.value).startswith(f"{tmp_path / 'c.yaml'}: mqtt.broker: mqtt://broker.kassel"
                                     ".example:1883 is plain MQTT without TLS: use mqtts://")
    plain["mqtt"]["insecure"] = True  # type: ignore[index]
    assert load_config(_write(tmp_path, plain)).mqtt.insecure
    tls_on_plain = {**INTERSECTION, "mqtt": {"broker": "mqtt://b:1883", "insecure": True,
                                             "tls": {"ca_file": "ca.crt"}}}
    with pytest.raises(ConfigError, match=r"mqtt: tls: TLS settings need an mqtts://"):
        load_config(_write(tmp_path, tls_on_plain))
    key_only = {**INTERSECTION, "mqtt": {"tls": {"key_file": "k.pem"}}}
    with pytest.raises(ConfigError, match=r"mqtt.tls: key_file is set without cert_file"):
        load_config(_write(tmp_path, key_only))
    with pytest.raises(ConfigError, match="insecure"):  # no switch to skip verification
        load_config(_write(tmp_path, {**INTERSECTION, "mqtt": {"tls": {"insecure": True}}}))


def test_a_plain_override_obeys_the_same_rule(tmp_path: Path) -> None:
    from edge_agent.agent import EdgeAgent  # noqa: PLC0415

    cfg = load_config(_write(tmp_path, {**INTERSECTION, "agent": {"state_dir": str(tmp_path)}}))
    with pytest.raises(ConfigError, match=r"^broker_url: mqtt://h:1 is plain MQTT") as err:
        EdgeAgent(cfg, kind="intersection", broker_url="mqtt://ks-0042:s3cret@h:1")
    assert "s3cret" not in str(err.value)
    assert EdgeAgent(cfg, kind="intersection", broker_url="mqtts://h:1").address.tls


def test_every_shipped_config_outside_the_demo_uses_tls() -> None:
    for path in sorted(CONFIGS.rglob("*.yaml")):
        cfg = load_config(path)
        assert cfg.mqtt.broker.startswith("mqtts://") != cfg.mqtt.insecure, path
        assert cfg.mqtt.insecure == path.name.startswith("demo-"), path


def test_the_learning_url_must_be_in_the_walled_garden() -> None:
    base = {"backend": "nftables", "interface": "wlan0", "uplink": "wwan0",
            "per_client_kbps": 2000, "uplink_kbps": 20000}
    with pytest.raises(ValidationError, match="not in the walled_garden"):
        WlanConfig.model_validate({**base, "learning_url": "http://10.0.0.5/lernen/"})
    with pytest.raises(ValidationError, match="learning_url"):
        WlanConfig.model_validate({**base, "learning_url": "javascript:alert(1)"})
    ok = WlanConfig.model_validate({**base, "walled_garden": ["10.0.0.5"],
                                    "learning_url": "http://10.0.0.5:8000/lernen/"})
    assert learning_host(ok.learning_url) == IPv4Address("10.0.0.5")
    # a name cannot be checked here: its address is the deployment's to put in the garden
    named = WlanConfig.model_validate({**base, "learning_url": "https://lernen.example/lernen/"})
    assert learning_host(named.learning_url) is None


def test_every_shipped_bus_links_the_learning_platform_from_its_garden() -> None:
    for path in sorted((ROOT / "firmware_configs" / "buses").glob("*.yaml")):
        config = load_config(path)
        assert isinstance(config, BusConfig)
        assert config.wlan.learning_url and config.wlan.walled_garden, path
    demo = load_config(CONFIGS / "buses" / "demo-bus-0001.yaml")
    assert isinstance(demo, BusConfig)
    assert learning_host(demo.wlan.learning_url) in demo.wlan.walled_garden
