"""A command outlives no runner: when the process running an experiment is
SIGKILLed (a Dask worker killed by the OOM killer or `kill -9`), the
command's whole process group dies with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from tests.helpers import wait_until
from tests.test_executors import make_spec


def _pids(marker: str) -> list[int]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if marker in " ".join(proc.info["cmdline"] or []):
                found.append(proc.pid)
        except psutil.Error:
            continue
    return found


def test_sigkilled_runner_takes_its_benchmark_tree_along(tmp_path: Path) -> None:
    marker = f"perfsup-deathwatch-{os.getpid()}-{tmp_path.name}"
    # A command with a child of its own: the whole group must go, not only bash.
    bench = f"bash -c 'sleep 300; echo {marker}' & wait"
    spec = make_spec(tmp_path, bench=bench, plan=[{"phase": "decide", "warmup": 0, "pairs": 1}])
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(spec.to_json())
    command = [sys.executable, "-m", "perfsup.workspace.experiment_runner", str(spec_file)]
    runner = subprocess.Popen(
        [*command, "--root", str(tmp_path / "host")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(
            lambda: _pids(marker) or runner.poll() is not None, what="the benchmark", timeout=60
        )
        assert _pids(marker), "the benchmark never started"
        runner.send_signal(signal.SIGKILL)
        runner.wait(10)
        wait_until(lambda: _pids(marker) == [], what="the benchmark tree gone", timeout=10)
    finally:
        runner.kill()
        runner.wait(10)
        for pid in _pids(marker):  # never leave a sleeper behind, even when failing
            os.kill(pid, signal.SIGKILL)
