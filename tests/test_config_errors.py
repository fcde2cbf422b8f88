"""A bad config stops perfsup before anything runs, with exit status 2 and one
line naming the key, the value and what was expected."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from perfsup.cli import main
from perfsup.config import load_config
from tests.helpers import VALID_CONFIG


@pytest.fixture
def workdir(tmp_path: Path, small_repo: Path) -> Path:
    (tmp_path / "answers.toml").write_text("[[answer]]\ntext = 'x'\n")
    return tmp_path


def write(workdir: Path, text: str) -> Path:
    path = workdir / "perfsup.toml"
    path.write_text(text)
    return path


def status_with(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["status", "-c", str(path)])
    err = capsys.readouterr().err
    return code, err


def test_valid_config_loads_with_resolved_paths(workdir: Path) -> None:
    config = load_config(write(workdir, VALID_CONFIG))
    assert Path(config.target.repo) == (workdir / "repo").resolve()
    assert config.model.script == str((workdir / "answers.toml").resolve())
    assert config.primary_metric.name == "t"
    assert config.bench.pairs == 30  # the most pairs of one sequential pass


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        # unknown key
        (lambda t: t.replace("[build]", "[build]\nrunn = 'x'"), ["unknown key build.runn", "run"]),
        (lambda t: t + "\n[colour]\nx = 1\n", ["unknown key colour", "top level"]),
        # wrong type
        (
            lambda t: t.replace("timeout_s = 30", "timeout_s = 'soon'"),
            ["bench.timeout_s", "'soon'", "number"],
        ),
        (
            lambda t: t.replace('direction = "lower"', 'direction = "down"'),
            ["metrics[0].direction", "'down'", "lower", "higher"],
        ),
        # missing command
        (lambda t: t.replace('run = "python bench.py"', ""), ["missing key bench.run"]),
        (
            lambda t: t.split("[bench]")[0] + "[[metrics]]" + t.split("[[metrics]]")[1],
            ["missing key bench"],
        ),
        # writable path that does not exist
        (
            lambda t: t.replace('writable = ["src"]', 'writable = ["lib"]'),
            ["access.writable", "'lib'", "no such file or folder"],
        ),
        (
            lambda t: t.replace('writable = ["src"]', 'writable = ["../src"]'),
            ["access.writable", "without '..'"],
        ),
        # unreadable answer file
        (
            lambda t: t.replace('script = "answers.toml"', 'script = "missing.toml"'),
            ["model.script", "'missing.toml'", "readable file"],
        ),
        # target that is not a repository
        (lambda t: t.replace('repo = "repo"', 'repo = "nowhere"'), ["target.repo", "'nowhere'"]),
        # TOML syntax error
        (lambda t: t.replace("[build]", "[build"), ["TOML syntax error", "line"]),
    ],
)
def test_bad_config_exits_2_with_one_line(
    workdir: Path, capsys: pytest.CaptureFixture[str], mutation, expected: list[str]
) -> None:
    path = write(workdir, mutation(VALID_CONFIG))
    code, err = status_with(path, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(path) in lines[0]
    for fragment in expected:
        assert fragment in lines[0], (fragment, lines[0])
    assert "Traceback" not in err


def test_unreadable_config_files(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    binary = workdir / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    code, err = status_with(binary, capsys)
    assert code == 2 and "cannot read the config file" in err

    folder = workdir / "folder.toml"
    folder.mkdir()
    code, err = status_with(folder, capsys)
    assert code == 2 and "cannot read the config file" in err

    code, err = status_with(workdir / "absent.toml", capsys)
    assert code == 2 and "no such config file" in err and "perfsup init" in err


def test_bad_config_in_a_real_process_prints_no_traceback(workdir: Path) -> None:
    path = write(workdir, VALID_CONFIG.replace("timeout_s = 30", "timeout_s = -1"))
    done = subprocess.run(
        [sys.executable, "-m", "perfsup", "run", "--headless", "-c", str(path)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "bench.timeout_s = -1" in done.stderr
    assert "greater than 0" in done.stderr
