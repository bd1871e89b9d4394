"""The command line's manners: every option explains itself with its default, and a bad value
is one line with exit code 2, never a traceback."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from edge_agent.cli import build_parser, main
from edge_agent.contract.configs import HubConfig, load_config


def _parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    out = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                out += _parsers(sub)
    return out


def test_every_option_of_every_command_has_a_description() -> None:
    missing = [f"{p.prog} {a.option_strings or a.dest}"
               for p in _parsers(build_parser()) for a in p._actions
               if not isinstance(a, argparse._HelpAction | argparse._SubParsersAction)
               and not a.help]
    assert missing == []


def test_help_shows_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["demo", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "simulated buses (0-500) (default: 20)" in " ".join(out.split())
    assert "(default: 8000)" in out


@pytest.mark.parametrize(("argv", "says"), [
    (["demo", "--http-port", "80000"], "--http-port: must be from 1 to 65535, got 80000"),
    (["demo", "--duration", "-3"], "--duration: must be more than 0 seconds, got -3"),
    (["demo", "--buses", "abc"], "--buses: must be a whole number from 0 to 500, got 'abc'"),
    (["demo", "--intersections", "501"], "--intersections: must be from 0 to 500, got 501"),
    (["hub", "--config", "x.yaml", "--port", "0"], "--port: must be from 1 to 65535, got 0"),
    (["demo", "--no-such-option"], "unrecognized arguments: --no-such-option"),
])
def test_bad_values_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err, err


def test_paths_are_relative_to_the_config_file_and_checked_before_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    conf_dir = tmp_path / "etc"
    (conf_dir / "gtfs").mkdir(parents=True)
    (conf_dir / "gtfs" / "feed.zip").write_bytes(b"PK")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    cfg = conf_dir / "hub.yaml"
    cfg.write_text("device_id: hub-1\nkind: hub\ndatabase: sqlite:///db/hub.db\n"
                   "gtfs: {static: gtfs/feed.zip}\n"
                   f"agent: {{state_dir: {blocker}/state}}\n")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config("../etc/hub.yaml")
    assert isinstance(config, HubConfig)
    assert config.gtfs.static == str(conf_dir / "gtfs" / "feed.zip")
    assert config.database == f"sqlite:///{conf_dir}/db/hub.db"
    assert main(["hub", "--config", "../etc/hub.yaml"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"../etc/hub.yaml: agent.state_dir: cannot create {blocker}/state: "
                   "Not a directory"], err
    (conf_dir / "gtfs" / "feed.zip").unlink()
    cfg.write_text(cfg.read_text().replace(f"{blocker}/state", str(tmp_path / "state")))
    assert main(["hub", "--config", str(cfg)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"{cfg}: gtfs.static: no such file: {conf_dir / 'gtfs' / 'feed.zip'}")


def test_a_plain_broker_override_is_refused_unless_the_config_says_insecure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = Path(__file__).resolve().parents[3]
    text = (root / "firmware_configs/intersections/ks-0042.yaml").read_text(encoding="utf-8")
    cfg = tmp_path / "ks-0042.yaml"
    cfg.write_text(text + f"agent: {{state_dir: {tmp_path}}}\n", encoding="utf-8")
    monkeypatch.setenv("KASSEL_BROKER", "mqtt://ks-0042:s3cret@broker.example:1883")
    assert main(["signal", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "s3cret" not in err, err
    assert "KASSEL_BROKER: mqtt://broker.example:1883 is plain MQTT without TLS" in err
    assert main(["signal", "--config", str(cfg), "--broker", "mqtt://h:1"]) == 2
    assert "--broker: mqtt://h:1 is plain MQTT" in capsys.readouterr().err
