"""``kassel sim evaluate`` argument checking: exit 2 with a message naming the option."""

from __future__ import annotations

import pytest

from edge_agent.cli import main


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--minutes", "0"], "--minutes"),
        (["--minutes", "abc"], "--minutes"),
        (["--minutes", "nan"], "--minutes"),
        (["--seed", "x"], "--seed"),
        (["--seed", "-1"], "--seed"),
        (["--scenario", "manhattan"], "--scenario"),
    ],
)
def test_bad_arguments_exit_2(tmp_path, capsys, args, needle):
    code = main(["sim", "evaluate", "--out", str(tmp_path / "o"), *args])
    assert code == 2
    assert needle in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_out_must_be_a_directory(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["sim", "evaluate", "--out", str(f)]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_missing_out_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["sim", "evaluate"])
    assert exc.value.code == 2
    assert "--out" in capsys.readouterr().err


@pytest.mark.parametrize("seeds", [["4-1"], ["1", "x"], ["0-99"]])
def test_bad_seed_lists_exit_2(tmp_path, capsys, seeds):
    code = main(["sim", "evaluate", "--out", str(tmp_path / "o"), "--seed", *seeds])
    assert code == 2
    assert "--seed" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
