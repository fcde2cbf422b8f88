"""`perfsup init`: guessing a perfsup.toml from what a repository holds.

Each test builds a small real repository (git init in tmp_path) for one
ecosystem, guesses its config, and loads the text with the real loader.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from perfsup.config.guess import PLACEHOLDER_BENCH, guess_config, write_init
from perfsup.config.load import parse_config
from perfsup.config.model import Config
from perfsup.metrics.sequential import (
    BETTER,
    Plan,
    default_looks,
    pooled_gain,
    run_sequential,
    threshold_log,
)


def make_repo(root: Path, files: dict[str, str]) -> Path:
    """A git repository at `root` holding `files` (not committed: init is enough)."""
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def guess(repo: Path) -> tuple[str, dict[str, Any], Config]:
    """The guessed text, its raw TOML data and the loaded config."""
    text = guess_config(repo)
    return text, tomllib.loads(text), parse_config(text, repo / "perfsup.toml")


def comment_above(text: str, line: str) -> str:
    """The comment lines right above the first line equal to `line`."""
    lines = text.splitlines()
    index = lines.index(line)
    above: list[str] = []
    while index > 0 and lines[index - 1].startswith("#"):
        index -= 1
        above.insert(0, lines[index])
    return "\n".join(above)


MAKEFILE = """\
CC := gcc
PREFIX ?= /usr/local
.PHONY: all test bench clean

all: build

build:
\t@echo building

test: build
\t@echo testing

bench:
\t@echo METRIC time_ms=1.5

%.o: %.c
\t$(CC) -c $<
"""


# --- Go -------------------------------------------------------------------


def test_go_module(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "go",
        {
            "go.mod": "module example.com/x\n\ngo 1.22\n",
            "go.sum": "",
            "main.go": "package main\n",
            "main_test.go": "package main\n",
            "internal/parse/parse.go": "package parse\n",
            "internal/parse/deep/deep.go": "package deep\n",
            "pkg/fmtx/fmtx.go": "package fmtx\n",
            "vendor/other/o.go": "package other\n",
            "testdata/t.go": "package t\n",
            "docs/readme.md": "",
        },
    )
    text, raw, config = guess(repo)
    assert raw["build"]["run"] == "go build ./..."
    assert raw["check"]["run"] == "go vet ./... && go test ./..."
    assert raw["bench"]["run"] == "go test -run '^$' -bench . -benchmem -count 1 ./..."
    assert config.access.writable == ["main.go", "internal/parse", "pkg/fmtx"]
    assert {"go.mod", "go.sum", "*_test.go", "perfsup.toml"} <= set(config.access.protected)
    for line in ('run = "go build ./..."', 'run = "go vet ./... && go test ./..."'):
        assert "guessed from go.mod" in comment_above(text, line)
    assert config.model.backend == "ollama"
    assert config.model.name == "qwen2.5-coder:7b"


def test_go_paths_with_odd_characters_are_escaped(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "go",
        {"go.mod": "module x\n", 'we"ird\\dir/a.go': "package a\n", "ünï/b.go": "package b\n"},
    )
    _, _, config = guess(repo)
    assert set(config.access.writable) == {'we"ird\\dir', "ünï"}


# --- Python -----------------------------------------------------------------


def test_python_package_with_pytest_benchmark(tmp_path: Path, python_env: dict[str, str]) -> None:
    repo = make_repo(
        tmp_path / "py",
        {
            "pyproject.toml": (
                '[project]\nname = "fastthing"\n'
                '[project.optional-dependencies]\ntest = ["pytest", "pytest-benchmark>=4"]\n'
            ),
            "fastthing/__init__.py": "VALUE = 1\n",
            "fastthing/core.py": "def f():\n    return 1\n",
            "tests/__init__.py": "",
            "tests/test_core.py": "def test_f():\n    pass\n",
            "docs/__init__.py": "",
        },
    )
    text, raw, config = guess(repo)
    # the check runs each benchmark once; the bench is where they are timed
    assert raw["check"]["run"] == "python -m pytest -q --benchmark-disable"
    assert raw["bench"]["run"] == (
        "python -m pytest --benchmark-only --benchmark-json=.perfsup-bench.json"
    )
    assert "guessed from pyproject.toml" in comment_above(text, f"run = {_q(raw['bench']['run'])}")
    assert config.access.writable == ["fastthing"]
    assert {"pyproject.toml", "tests", "perfsup.toml"} <= set(config.access.protected)
    # The guessed build command really runs.
    assert config.build is not None
    done = subprocess.run(config.build.run, shell=True, cwd=repo, env=python_env)
    assert done.returncode == 0


def test_top_level_test_modules_and_bench_folders_are_protected(tmp_path: Path) -> None:
    # the layout of many small sdists: tests beside setup.py, an asv-style folder
    # that has nothing perfsup can run but is still the project's benchmark
    repo = make_repo(
        tmp_path / "py",
        {
            "setup.cfg": "[options.extras_require]\ntests = pytest-benchmark\n",
            "setup.py": "from setuptools import setup\nsetup()\n",
            "codec/__init__.py": "def encode(b):\n    return b\n",
            "test_codec.py": "def test_encode(benchmark):\n    benchmark(lambda: 1)\n",
            "benchmark/suite.py": "class TimeEncode:\n    def time_encode(self):\n        pass\n",
        },
    )
    text, raw, config = guess(repo)
    assert {"test_*.py", "benchmark", "setup.cfg"} <= set(config.access.protected)
    assert config.access.writable == ["codec"]
    assert raw["check"]["run"] == "python -m pytest -q --benchmark-disable"
    assert raw["metrics"][0]["source"] == "pytest_benchmark"
    # the person is told which benchmark decides and how to pick another
    assert "the first benchmark in the JSON; set select = " in comment_above(text, "[[metrics]]")


def test_python_src_layout_without_benchmark_gets_a_placeholder(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "py",
        {
            "setup.cfg": "[metadata]\nname = thing\n",
            "setup.py": "from setuptools import setup\nsetup()\n",
            "src/thing/__init__.py": "",
        },
    )
    text, raw, config = guess(repo)
    assert raw["check"]["run"] == "python -m pytest -q"
    assert raw["bench"]["run"] == PLACEHOLDER_BENCH
    assert "TODO" in comment_above(text, f"run = {_q(PLACEHOLDER_BENCH)}")
    assert config.access.writable == ["src"]
    assert "guessed from setup.cfg" in comment_above(text, 'writable = ["src"]')


def test_placeholder_bench_fails_loudly(tmp_path: Path) -> None:
    done = subprocess.run(PLACEHOLDER_BENCH, shell=True, cwd=tmp_path, capture_output=True)
    assert done.returncode != 0
    assert b"bench.run" in done.stderr


def test_python_requirements_file_mentions_pytest_benchmark(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "py",
        {
            "setup.py": "from setuptools import setup\nsetup()\n",
            "requirements-dev.txt": "pytest\npytest_benchmark==4.0\n",
            "tool.py": "print(1)\n",
            "conftest.py": "",
        },
    )
    text, raw, config = guess(repo)
    assert "--benchmark-only" in raw["bench"]["run"]
    assert "guessed from requirements-dev.txt" in text
    assert config.access.writable == ["tool.py"]
    assert "conftest.py" in config.access.protected


def test_python_without_benchmark_takes_make_bench(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "py",
        {"pyproject.toml": '[project]\nname = "p"\n', "p/__init__.py": "", "Makefile": MAKEFILE},
    )
    text, raw, config = guess(repo)
    assert raw["check"]["run"] == "python -m pytest -q"
    assert raw["bench"]["run"] == "make bench"
    assert "guessed from Makefile: target bench" in comment_above(text, 'run = "make bench"')
    assert "Makefile" in config.access.protected


# --- Rust -------------------------------------------------------------------


def test_cargo_workspace(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "rs",
        {
            "Cargo.toml": (
                '[package]\nname = "top"\nversion = "0.1.0"\n\n'
                '[workspace]\nmembers = ["crates/*", "tools/gen", "../escape"]\n'
            ),
            "src/lib.rs": "",
            "crates/a/src/lib.rs": "",
            "crates/b/src/lib.rs": "",
            "crates/notes.txt": "",
            "tools/gen/src/main.rs": "fn main() {}\n",
            "benches/b.rs": "",
        },
    )
    text, raw, config = guess(repo)
    assert raw["build"]["run"] == "cargo build --release"
    assert raw["check"]["run"] == "cargo test"
    assert raw["bench"]["run"] == "cargo bench"
    assert "guessed from Cargo.toml" in comment_above(text, 'run = "cargo bench"')
    assert config.access.writable == ["src", "crates/a/src", "crates/b/src", "tools/gen/src"]
    assert {"Cargo.toml", "benches"} <= set(config.access.protected)


def test_broken_cargo_toml_still_guesses(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "rs", {"Cargo.toml": "[package\n", "src/main.rs": ""})
    _, raw, config = guess(repo)
    assert raw["build"]["run"] == "cargo build --release"
    assert config.access.writable == ["src"]


# --- Makefile ---------------------------------------------------------------


def test_makefile_only(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "mk", {"Makefile": MAKEFILE, "src/main.c": "int main(){}\n"})
    text, raw, config = guess(repo)
    assert raw["build"]["run"] == "make"
    assert raw["check"]["run"] == "make test"
    assert raw["bench"]["run"] == "make bench"
    assert "guessed from Makefile" in comment_above(text, 'run = "make test"')
    assert config.access.writable == ["src"]
    assert "Makefile" in config.access.protected


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_guessed_make_commands_run(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "mk", {"Makefile": MAKEFILE, "src/main.c": ""})
    config = parse_config(guess_config(repo), repo / "perfsup.toml")
    assert config.build is not None and config.check is not None
    for command in (config.build.run, config.check.run, config.bench.run):
        assert subprocess.run(command, shell=True, cwd=repo, capture_output=True).returncode == 0
    bench = subprocess.run(config.bench.run, shell=True, cwd=repo, capture_output=True, text=True)
    assert "METRIC time_ms=1.5" in bench.stdout


def test_makefile_without_test_target_leaves_check_as_todo(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "mk", {"GNUmakefile": "all:\n\t@true\n", "lib.c": ""})
    text, raw, config = guess(repo)
    assert raw["build"]["run"] == "make"
    assert "check" not in raw
    assert config.check is None
    assert "# TODO: no check command found" in text
    assert raw["bench"]["run"] == PLACEHOLDER_BENCH
    assert config.access.writable == ["."]


# --- nothing known ----------------------------------------------------------


def test_unknown_repository_gets_a_template_with_todos(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "empty", {"README": "hello\n"})
    text, raw, config = guess(repo)
    assert "build" not in raw and "check" not in raw
    assert raw["bench"]["run"] == PLACEHOLDER_BENCH
    assert text.count("TODO") >= 4
    assert config.access.writable == ["."]
    assert config.access.protected == ["perfsup.toml"]
    assert config.metrics[0].name == "time_ms"
    assert config.model.backend == "ollama"


# --- write_init -------------------------------------------------------------


def test_write_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "go", {"go.mod": "module x\n", "a.go": "package a\n"})
    written = write_init(repo)
    assert written == repo / "perfsup.toml"
    assert written.read_text(encoding="utf-8") == guess_config(repo)
    written.write_text("# edited by hand\n", encoding="utf-8")
    with pytest.raises(FileExistsError, match="--force"):
        write_init(repo)
    assert written.read_text(encoding="utf-8") == "# edited by hand\n"
    write_init(repo, force=True)
    parse_config(written.read_text(encoding="utf-8"), written)


# --- helpers ----------------------------------------------------------------


def _q(value: str) -> str:
    """How the guesser writes a plain string (no quotes or backslashes inside)."""
    assert '"' not in value and "\\" not in value
    return f'"{value}"'


@pytest.fixture
def python_env(tmp_path: Path) -> dict[str, str]:
    """An environment where `python` is this interpreter."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}


# --- pairs that can find a real gain (issue 15) ------------------------------


def home_gains(rng: np.random.Generator, rows: int, pairs: int, ratio: float) -> np.ndarray:
    """log(parent/candidate) per pair on issue 15's home machine (without drift)."""

    def runs() -> np.ndarray:
        log = rng.normal(0.0, 0.02, (rows, pairs))
        log += np.where(rng.random((rows, pairs)) < 0.15, np.log(1.04), 0.0)
        tail = np.log1p(rng.exponential(0.15, (rows, pairs)))
        return log + np.where(rng.random((rows, pairs)) < 0.05, tail, 0.0)

    return runs() - (runs() + np.log(ratio))


def kept_share(config: Config, ratio: float) -> float:
    """How often the config's plan keeps a change of `ratio`, re-verification included."""
    pairs, most = config.bench.pairs, config.max_pairs
    decision = config.decision
    plan = Plan(default_looks(pairs, most), decision.alpha, base_pairs=pairs, near=decision.near)
    rng = np.random.default_rng(15)
    thr = threshold_log(decision.min_effect, "lower")
    first = run_sequential(home_gains(rng, 1000, most, ratio), thr, plan)
    again = run_sequential(home_gains(rng, 1000, most, ratio), 0.0, plan)
    pooled = pooled_gain(first.hl, first.pairs, again.hl, again.pairs)
    return float(((first.codes == BETTER) & (again.codes == BETTER) & (pooled >= thr)).mean())


def test_init_writes_pairs_that_find_a_real_3_percent_gain_at_home(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "go", {"go.mod": "module example.com/x\n\ngo 1.22\n"})
    _, raw, config = guess(repo)
    assert raw["bench"]["pairs"] == 20
    assert kept_share(config, 0.97) >= 0.85
    assert kept_share(config, 1.0) <= 0.01
    # init wrote 6 pairs before (one look under rule v2: a real 3% gain kept 11%);
    # even with rule v3's extension to 12 pairs that finds too little
    six = config.model_copy(update={"bench": config.bench.model_copy(update={"pairs": 6})})
    assert kept_share(six, 0.97) < 0.5


def test_a_hyperfine_command_in_a_script_is_read_through_its_json(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "h", {"bench.sh": "#!/bin/sh\nhyperfine -w 2 './tool --fast'\n"})
    text, raw, config = guess(repo)
    assert (
        raw["bench"]["run"]
        == "hyperfine --export-json .perfsup-hyperfine.json -w 2 './tool --fast'"
    )
    assert "guessed from bench.sh" in text
    assert config.metrics[0].source == "hyperfine"
    assert config.metrics[0].path == ".perfsup-hyperfine.json"
    assert "bench.sh" in config.access.protected


def test_metric_names_give_direction_and_unit(tmp_path: Path) -> None:
    script = 'print(f"METRIC parse_ms={t}")\nprint(f"METRIC rows_per_s={r} rss_mb={m}")\n'
    repo = make_repo(tmp_path / "p", {"setup.py": "", "lib.py": "", "bench_parse.py": script})
    _, raw, _ = guess(repo)
    assert raw["bench"]["run"] == "python bench_parse.py"
    got = {m["name"]: (m["direction"], m["unit"]) for m in raw["metrics"]}
    assert got == {
        "parse_ms": ("lower", "ms"),
        "rows_per_s": ("higher", "1/s"),
        "rss_mb": ("lower", "MB"),
    }
