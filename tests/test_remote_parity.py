"""Every executor measures with the one pair loop and reports like a local run:
the runner (what Dask, SkyPilot and local threads run) counts callgrind metrics,
sends each command's log end line back and names a failed check by its own last
line; the demo on a real Dask scheduler and worker reports every step's time
(not 0.0 s for the benchmark) and the same failure reasons as the demo run here."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from git import Actor, Repo

from perfsup.demo import prepare_demo
from perfsup.engine.rundir import RunPaths
from perfsup.results.report import ReportData, build_report, collect
from perfsup.store import NodeStatus, open_store
from perfsup.workspace.experiment import Command, Event, ExperimentSpec, LineReader
from perfsup.workspace.experiments import ExperimentHandle, LocalExperiments
from perfsup.workspace.ship import BundleCache

STEPS = ("model", "build", "check", "benchmark")
PATCH = "--- a/app.py\n+++ b/app.py\n@@ -1 +1 @@\n-X = 1\n+X = 2\n"


def spec_for(tmp_path: Path, **fields: Any) -> ExperimentSpec:
    """An experiment on a one-file repository, shipped as a bundle as to any host."""
    path = tmp_path / "repo"
    path.mkdir()
    (path / "app.py").write_text("X = 1\n")
    repo = Repo.init(path, initial_branch="main")
    repo.git.add(A=True)
    who = Actor("test", "test@example.invalid")
    sha = repo.index.commit("baseline", author=who, committer=who).hexsha
    repo.close()
    fields.setdefault("metrics", [{"name": "t"}])
    return ExperimentSpec(
        exp_id="1.1",
        parent_commit=sha,
        patch=PATCH,
        bench=Command("echo METRIC t=1", 60),
        bundle_b64=BundleCache(path).bundle_b64(sha),
        **fields,
    )


def events_until(handle: ExperimentHandle, kind: str, limit_s: float = 120) -> list[Event]:
    """The runner's events up to and including the first of `kind` (bounded)."""
    reader = LineReader()
    events: list[Event] = []
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        for line in handle.lines(0.2):
            event = reader.feed(line)
            if event is not None:
                events.append(event)
                if event.kind == kind:
                    return events
    raise AssertionError(f"no {kind!r} event within {limit_s} s: {[e.kind for e in events]}")


def test_the_runner_counts_callgrind_metrics_and_sends_each_log_end_line(
    tmp_path: Path,
) -> None:
    if shutil.which("valgrind") is None:
        pytest.skip("valgrind is not installed")
    metrics = [{"name": "t"}, {"name": "ir", "source": "callgrind"}]
    handle = LocalExperiments(root=tmp_path / "host").submit(spec_for(tmp_path, metrics=metrics))
    events_until(handle, "ready")
    handle.send({"do": "pairs", "phase": "decide", "warmup": 0, "pairs": 2, "stops": []})
    events = events_until(handle, "phase_done")
    handle.send({"do": "finish"})
    events_until(handle, "done")
    assert handle.result(30)["failure"] is None
    samples = [e.sample for e in events if e.sample is not None]
    assert len(samples) == 4
    assert all(s.values["t"] == 1 and s.values["ir"] > 0 for s in samples)
    ends = [e.text for e in events if e.kind == "output" and e.data["stream"] == "log"]
    # one plain and one callgrind run per side and pair, each with its log's end line
    assert len([x for x in ends if x.startswith("--- perfsup: exit 0 after ")]) == 8
    assert "---- pair 2: parent ----" in ends


def test_a_failed_check_on_the_runner_is_named_by_its_own_words(tmp_path: Path) -> None:
    check = Command("echo running the checks; echo 'wrong total: 3 != 4'; exit 1", 60)
    handle = LocalExperiments(root=tmp_path / "host").submit(spec_for(tmp_path, check=check))
    events = events_until(handle, "done")
    (failed,) = [e for e in events if e.kind == "failed"]
    assert failed.data == {
        "status": "checks_failed",
        "reason": "check exited with status 1: wrong total: 3 != 4",
    }


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


@pytest.mark.slow
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
    # the check's own error message (unittest's), not only its exit status
    assert remote_reasons[NodeStatus.CHECKS_FAILED].startswith(
        "check exited with status 1: AssertionError: Lists differ: "
    )
