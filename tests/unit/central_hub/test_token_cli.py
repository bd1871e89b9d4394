"""``kassel hub token issue|revoke|list``: printed once, never again, never logged."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest
import yaml

from central_hub.core.tokens import TokenStore
from central_hub.storage.db import make_engine
from edge_agent.cli import main


@pytest.fixture
def config(tmp_path: Path) -> str:
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump({
        "device_id": "hub-1", "kind": "hub", "database": f"sqlite:///{tmp_path / 'hub.db'}",
        "agent": {"state_dir": str(tmp_path / "state")}}), encoding="utf-8")
    return str(path)


def test_issue_prints_the_token_once_list_and_revoke_never_show_it(
        config: str, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
        tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)
    assert main(["hub", "token", "issue", "--config", config, "--name", "alice",
                 "--role", "engineer", "--role", "kita_staff", "--expires-days", "30"]) == 0
    out, err = capsys.readouterr()
    token = out.strip()
    assert token.startswith("kh_") and "\n" not in token
    assert "shown only now" in err and token not in err
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert main(["hub", "token", "list", "--config", config]) == 0
    listed, _ = capsys.readouterr()
    assert "alice" in listed and "engineer,kita_staff" in listed and "active" in listed
    assert main(["hub", "token", "revoke", "1", "--config", config]) == 0
    assert main(["hub", "token", "list", "--config", config]) == 0
    after, _ = capsys.readouterr()
    assert "revoked" in after
    for text in (listed, after, caplog.text):
        assert token not in text and digest[:16] not in text
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        assert TokenStore(engine).lookup(token) is None  # revoked
    finally:
        engine.dispose()


@pytest.mark.parametrize(("args", "message"), [
    (["issue", "--name", "x", "--role", "root"], "unknown role 'root'"),
    (["issue", "--name", "x", "--role", "admin", "--expires-days", "0"], "must be > 0"),
    (["issue", "--name", " ", "--role", "admin"], "printable"),
    (["revoke", "7"], "no token 7"),
])
def test_bad_input_is_one_line_and_exit_2(config: str, capsys: pytest.CaptureFixture[str],
                                          args: list[str], message: str) -> None:
    def run() -> int:
        try:
            return main(["hub", "token", *args, "--config", config])
        except SystemExit as exc:  # argparse's own errors
            return int(str(exc.code))

    assert run() == 2
    out, err = capsys.readouterr()
    assert out == "" and message in err and err.count("\n") == 1
