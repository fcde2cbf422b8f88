"""Layout randomisation for compiled targets (bench.layout), through a real shell."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from perfsup.config import BenchSettings, CommandSpec
from perfsup.engine.layout import layout_bench


def run(command: str, cwd: Path) -> str:
    done = subprocess.run(
        ["bash", "-c", command], cwd=cwd, capture_output=True, text=True, check=True
    )
    return done.stdout


def test_rebuild_runs_the_build_before_every_run_with_a_fresh_seed(tmp_path: Path) -> None:
    build = CommandSpec(run='echo "$PERFSUP_LAYOUT_SEED" >> seeds.txt; echo building', timeout_s=5)
    bench = BenchSettings(run="echo METRIC t=1", layout="rebuild", timeout_s=7)
    wrapped = layout_bench(bench, build)
    assert wrapped.timeout_s == 12  # the build's time is inside the run's limit
    outputs = [run(wrapped.run, tmp_path) for _ in range(4)]
    assert outputs == ["METRIC t=1\n"] * 4  # the build's output stays out of the metrics
    seeds = (tmp_path / "seeds.txt").read_text().split()
    assert len(seeds) == 4 and len(set(seeds)) == 4 and all(s.isdigit() for s in seeds)


def test_a_failing_build_fails_the_run(tmp_path: Path) -> None:
    bench = BenchSettings(run="echo METRIC t=1", layout="rebuild")
    wrapped = layout_bench(bench, CommandSpec(run="exit 3"))
    with pytest.raises(subprocess.CalledProcessError):
        run(wrapped.run, tmp_path)


def test_env_pad_gives_every_run_its_own_environment_size(tmp_path: Path) -> None:
    bench = BenchSettings(run='echo "METRIC pad=${#PERFSUP_LAYOUT_PAD}"', layout="env-pad")
    pads = {run(layout_bench(bench, None).run, tmp_path) for _ in range(6)}
    assert len(pads) >= 4
    assert all(0 <= int(p.split("=")[1]) < 4096 for p in pads)


def test_none_leaves_the_benchmark_as_it_is() -> None:
    bench = BenchSettings(run="echo METRIC t=1")
    assert layout_bench(bench, CommandSpec(run="make")) is bench
