"""Regenerate `sky_replay.log`: the real experiment runner's output for the spec
the engine launches in `test_skypilot_job_runs_the_runner_and_the_engine_decides_on_its_log`.

Run from the repository root: `python tests/data/make_sky_replay.py`. The
engine is the one of the test; "launch" runs `python -m
perfsup.workspace.experiment_runner` on this machine instead of a cloud VM, and
the host name it reports is replaced by `sky-node-1`.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from perfsup.workspace.sky_executor import SkyExperiments
from tests.test_executors import sky_engine

OUT = Path(__file__).with_name("sky_replay.log")


class RunHere:
    """The SDK's three calls, with the job run by the real runner on this host."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def launch(self, task: dict[str, Any], cluster: str) -> int:
        spec = Path(task["file_mounts"]["~/perfsup-spec.json"])
        done = subprocess.run(
            [sys.executable, "-m", "perfsup.workspace.experiment_runner", str(spec)],
            capture_output=True, text=True, check=False, timeout=600,
        )  # fmt: skip
        self.lines = done.stdout.splitlines()
        return 1

    def tail_logs(self, cluster: str, job_id: int) -> Iterable[str]:
        yield from self.lines

    def cancel(self, cluster: str, job_id: int) -> None:
        pass


def main() -> None:
    sdk = RunHere()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        engine = sky_engine(tmp_path, SkyExperiments("bench", sdk=sdk))
        engine.run()
        engine.store.close()
        text = "\n".join(sdk.lines).replace(socket.gethostname(), "sky-node-1")
        OUT.write_text(text.replace(tmp, "/tmp/job") + "\n", encoding="utf-8")
    print(f"{OUT.name}: {len(sdk.lines)} lines")


if __name__ == "__main__":
    main()
