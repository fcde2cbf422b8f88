"""The demo on a real Dask scheduler and worker reports like the demo run here:
every step's time (not 0.0 s for the benchmark) and every failure's own reason
(the check's last line, not only its exit status)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfsup.demo import prepare_demo
from perfsup.engine.rundir import RunPaths
from perfsup.results.report import ReportData, build_report, collect
from perfsup.store import NodeStatus, open_store

pytestmark = pytest.mark.slow

STEPS = ("model", "build", "check", "benchmark")


@pytest.fixture
def scheduler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The address of a Dask scheduler on 127.0.0.1 with one worker and one bench slot."""
    distributed = pytest.importorskip("distributed")
    monkeypatch.setenv("PERFSUP_RUNNER_ROOT", str(tmp_path / "host"))  # the worker's folder
    cluster = distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        protocol="tcp://",
        host="127.0.0.1",
        resources={"bench_slot": 1},
        dashboard_address=None,
    )
    try:
        yield str(cluster.scheduler_address)
    finally:
        cluster.close()


def report_of(base: Path) -> tuple[ReportData, dict[str, str]]:
    """The report's data of the demo in `base`, and its time table as the report shows it."""
    store = open_store(RunPaths(base / "run").store)
    try:
        data = collect(store, 1, RunPaths(base / "run"), None)
    finally:
        store.close()
    blocks = build_report(data, None)
    heading = next(i for i, b in enumerate(blocks) if b.text == "Where the time went")
    table = blocks[heading + 1]
    return data, dict(zip(table.header, table.rows[0], strict=True))


def reasons(data: ReportData) -> dict[str, str]:
    """The reason of each failed experiment, by its status (the demo fails once each)."""
    return {
        n.status: n.reason or ""
        for n in data.nodes
        if n.status in (NodeStatus.CHECKS_FAILED, NodeStatus.BUILD_FAILED)
    }


@pytest.mark.timeout(900)
def test_demo_on_dask_reports_step_times_and_reasons_like_a_local_run(
    python_demo: Path, scheduler: str, tmp_path: Path
) -> None:
    base = tmp_path / "dask"
    repo = prepare_demo(base)
    config = repo / "perfsup.toml"
    with config.open("a", encoding="utf-8") as fh:
        fh.write(f'\n[executor]\nkind = "dask"\nscheduler = "{scheduler}"\n')
    command = ["run", "--headless", "-c", str(config), "--run-dir", str(base / "run")]
    done = subprocess.run(
        [sys.executable, "-m", "perfsup", *command, "--seed", "7"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=800,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    local, local_table = report_of(python_demo)
    remote, remote_table = report_of(base)
    for data, where in ((local, "local"), (remote, "dask")):
        spent = data.time_split
        assert all(spent[step] > 0 for step in ("build", "check", "benchmark")), (where, spent)
    assert {s for s in STEPS if local.time_split[s] > 0} == {
        s for s in STEPS if remote.time_split[s] > 0
    }
    assert "0.0 s" not in remote_table["Benchmark"]
    assert remote_table.keys() == local_table.keys()

    local_reasons, remote_reasons = reasons(local), reasons(remote)
    assert set(local_reasons) == {NodeStatus.CHECKS_FAILED, NodeStatus.BUILD_FAILED}
    assert remote_reasons == local_reasons
    # the check's own last line, not only its exit status
    assert remote_reasons[NodeStatus.CHECKS_FAILED].endswith(
        "check.py: FAILED, textstats gives wrong results"
    )
