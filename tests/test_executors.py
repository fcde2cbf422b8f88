"""Experiment executors: the runner module on a local thread, on a Dask
LocalCluster (127.0.0.1, one worker with a bench slot) and behind a SkyPilot
SDK recorder that replays a real log of the line protocol."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from sqlmodel import select

from perfsup.config import load_config
from perfsup.store import Event, Node, Sample
from perfsup.workspace.experiment import Command, ExperimentSpec, LineReader
from perfsup.workspace.experiments import ExperimentHandle, ExperimentLost, LocalExperiments
from perfsup.workspace.ship import BundleCache
from tests.helpers import build_engine, git, make_repo, wait_until

DATA = Path(__file__).parent / "data"
BENCH = "import src.app as a\nprint('METRIC t=%d' % (a.X + 1))\n"
PATCH = "--- a/src/app.py\n+++ b/src/app.py\n@@ -1 +1 @@\n-X = 1\n+X = 2\n"


def make_spec(tmp_path: Path, bench: str = "python bench.py", **extra: Any) -> ExperimentSpec:
    repo = make_repo(tmp_path / "repo", {"src/app.py": "X = 1\n", "bench.py": BENCH})
    sha = git(repo, "rev-parse", "HEAD")
    return ExperimentSpec(
        exp_id="1.1",
        parent_commit=sha,
        patch=PATCH,
        bench=Command(bench, 30),
        metrics=[{"name": "t"}],
        build=Command("true", 10),
        check=Command("true", 10),
        bundle_b64=BundleCache(repo).bundle_b64(sha),
        **extra,
    )


def read_until(handle: ExperimentHandle, kind: str, limit_s: float = 60) -> list[Any]:
    """Events up to and including the first of `kind` (bounded)."""
    reader = LineReader()
    events: list[Any] = []

    def reached() -> bool:
        for line in handle.lines(0.2):
            event = reader.feed(line)
            if event is not None:
                events.append(event)
                if event.kind == kind:
                    return True
        return False

    wait_until(
        reached,
        what=f"a {kind!r} event",
        timeout=limit_s,
        interval=0,
        detail=lambda: [e.kind for e in events],
    )
    return events


def test_local_runner_builds_from_bundle_and_patch_and_streams_samples(tmp_path: Path) -> None:
    handle = LocalExperiments(root=tmp_path / "host").submit(make_spec(tmp_path))
    events = read_until(handle, "ready")
    assert events[0].kind == "host"
    handle.send({"do": "pairs", "phase": "decide", "warmup": 0, "pairs": 3, "stops": [2]})
    events = read_until(handle, "paused")
    handle.send({"do": "more"})
    events += read_until(handle, "phase_done")
    handle.send({"do": "finish"})
    read_until(handle, "done")
    samples = [e.sample for e in events if e.kind == "sample"]
    # the patch reached the candidate only: X = 2 there, X = 1 in the parent
    assert {(s.side, s.values["t"]) for s in samples} == {("parent", 2.0), ("candidate", 3.0)}
    assert len(samples) == 6
    assert handle.result(10)["failure"] is None


def test_patch_that_does_not_apply_fails_clearly(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    spec.patch = PATCH.replace("-X = 1", "-X = 7")
    handle = LocalExperiments(root=tmp_path / "host").submit(spec)
    events = read_until(handle, "done")
    failed = [e for e in events if e.kind == "failed"]
    assert failed and "does not apply" in failed[0].data["reason"]


def test_an_unexpected_runner_error_is_a_failed_line_not_a_silent_end(tmp_path: Path) -> None:
    """A check that deletes its own worktree: the next command cannot start. The
    runner says why in a `failed` line (the engine shows it) and still ends."""
    spec = make_spec(tmp_path)
    spec.check = Command('rm -rf "$PWD"', 10)
    handle = LocalExperiments(root=tmp_path / "host").submit(spec)
    read_until(handle, "ready")
    handle.send({"do": "pairs", "phase": "decide", "warmup": 0, "pairs": 2, "stops": []})
    events = read_until(handle, "done")
    (failed,) = [e for e in events if e.kind == "failed"]
    assert failed.data["status"] == "crashed"
    assert "working directory does not exist" in failed.data["reason"]


def test_each_attempt_builds_in_a_folder_of_its_own(tmp_path: Path) -> None:
    """Two attempts at one experiment on one host (a re-queue onto a second worker
    while the lost one still cleans up) never share a worktree."""
    spec = make_spec(tmp_path)
    spec.check = Command(f'echo "$PWD" >> {tmp_path / "dirs"}', 10)
    for _ in range(2):
        handle = LocalExperiments(root=tmp_path / "host").submit(spec)
        read_until(handle, "ready")
        handle.send({"do": "finish"})
        read_until(handle, "done")
    seen = (tmp_path / "dirs").read_text().split()
    assert len(seen) == 2 and seen[0] != seen[1]


# ------------------------------------------------------------------ dask
@pytest.fixture
def dask_client() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        protocol="tcp://",
        host="127.0.0.1",
        resources={"bench_slot": 1},
        dashboard_address=None,
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def test_dask_submit_streams_lines_from_the_worker(tmp_path: Path, dask_client: Any) -> None:
    from perfsup.workspace.dask_executor import DaskExperiments

    experiments = DaskExperiments(dask_client)
    handle = experiments.submit(make_spec(tmp_path))
    events = read_until(handle, "ready")
    assert events[0].data["worker"] in experiments.hosts()
    handle.send({"do": "pairs", "phase": "decide", "warmup": 0, "pairs": 2, "stops": []})
    events = read_until(handle, "phase_done")
    handle.send({"do": "finish"})
    read_until(handle, "done")
    assert len([e for e in events if e.kind == "sample"]) == 4
    assert any(e.kind == "output" and e.text.startswith("METRIC t=") for e in events)
    assert handle.result(30)["failure"] is None


def status_of(store: Any, node_id: str) -> str | None:
    with store.session() as s:
        node = s.get(Node, node_id)
        return node.status if node else None


def requeued(store: Any, node_id: str) -> bool:
    with store.session() as s:
        query = select(Event).where(Event.node_id == node_id, Event.kind == "node_requeued")
        return s.exec(query).first() is not None


def _bench_pids(marker: str) -> list[int]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if marker in " ".join(proc.info["cmdline"] or []):
            found.append(proc.pid)
    return found


def test_dask_cancel_mid_benchmark_kills_the_process_tree(tmp_path: Path, dask_client: Any) -> None:
    from perfsup.workspace.dask_executor import DaskExperiments

    marker = f"perfsup-cancel-{tmp_path.name}"
    bench = f"bash -c 'sleep 300; echo {marker}' & wait"
    handle = DaskExperiments(dask_client).submit(make_spec(tmp_path, bench=bench))
    read_until(handle, "ready")
    handle.send({"do": "pairs", "phase": "decide", "warmup": 0, "pairs": 3, "stops": []})
    wait_until(lambda: _bench_pids(marker), what="the benchmark to start", timeout=20)
    handle.cancel()
    events = read_until(handle, "done", limit_s=30)
    assert any(e.kind == "failed" and e.data["status"] == "cancelled" for e in events)
    assert _bench_pids(marker) == []


def test_dask_worker_lost_mid_experiment_requeues_the_node(
    tmp_path: Path, dask_client: Any
) -> None:
    """The engine's only worker leaves during a benchmark; a new one joins: the
    node is re-queued, its partial samples dropped, and it is decided on the new host."""
    from perfsup.workspace.dask_executor import DaskExperiments

    hold = tmp_path / "hold"
    hold.write_text("")
    bench = f"while [ -e {hold} ]; do sleep 0.05; done; echo METRIC t=1"
    config_path = _engine_target(tmp_path, bench)
    engine = build_engine(
        config_path, tmp_path / "run", seed=3, experiments=DaskExperiments(dask_client)
    )
    store = engine.store
    import threading

    runner = threading.Thread(target=engine.run)
    runner.start()
    try:
        wait_until(lambda: status_of(store, "1.1") == "benchmarking", what="1.1 benchmarking")
        cluster = dask_client.cluster
        (old_name,) = list(cluster.workers)
        old = cluster.workers[old_name]
        cluster.scale(2)
        dask_client.wait_for_workers(2, timeout=30)
        cluster.sync(old.close, reason="test: the worker machine went away")
        wait_until(lambda: requeued(store, "1.1"), what="1.1 re-queued", timeout=60)
        hold.unlink()
        runner.join(120)
        assert not runner.is_alive()
        with store.session() as s:
            node = s.get(Node, "1.1")
            events = [e.kind for e in s.exec(select(Event).where(Event.node_id == "1.1")).all()]
            hosts = {x.host for x in s.exec(select(Sample).where(Sample.node_id == "1.1")).all()}
        assert "node_requeued" in events
        assert node is not None and node.status in ("kept", "discarded"), node and node.reason
        assert len(hosts) == 1  # a decision never mixes hosts
    finally:
        if hold.exists():
            hold.unlink()
        engine.controls.stop("test over")
        runner.join(30)
        store.close()


def sky_engine(tmp_path: Path, experiments: Any) -> Any:
    """The engine of the SkyPilot replay test (tests/data/make_sky_replay.py makes
    the replayed log with this same engine)."""
    config_path = _engine_target(tmp_path, "echo METRIC t=1")
    text = config_path.read_text().replace("calibration_pairs = 0", "calibration_pairs = 6")
    text = text.replace("pairs = 3", "pairs = 6").replace("reverify = false", "reverify = true")
    config_path.write_text(text + '\n[executor]\nkind = "skypilot"\ncluster = "bench"\n')
    return build_engine(config_path, tmp_path / "run", seed=3, experiments=experiments)


def _engine_target(tmp_path: Path, bench: str) -> Path:
    make_repo(tmp_path / "repo", {"src/app.py": "X = 1\n", "bench.sh": bench})
    answer = (
        "DESCRIPTION: two\nsrc/app.py\n<<<<<<< SEARCH\nX = 1\n=======\nX = 2\n>>>>>>> REPLACE\n"
    )
    (tmp_path / "answers.toml").write_text(f"[[answer]]\ntext = '''\n{answer}'''\n")
    config = tmp_path / "perfsup.toml"
    config.write_text(
        textwrap.dedent(
            """
            [target]
            repo = "repo"
            goal = "g"
            [bench]
            run = "bash bench.sh"
            pairs = 3
            warmup = 0
            [[metrics]]
            name = "t"
            [access]
            writable = ["src"]
            protected = ["bench.sh"]
            [model]
            backend = "scripted"
            script = "answers.toml"
            [budgets]
            max_experiments = 1
            [decision]
            calibration_pairs = 0
            reverify = false
            max_load_per_core = 0
            [sandbox]
            kind = "none"
            """
        )
    )
    return config


# -------------------------------------------------------------- skypilot
class SkyRecorder:
    """Stands in for SkyPilot's SDK: records calls, replays a real runner log."""

    def __init__(self, log: Path) -> None:
        self.log = log.read_text(encoding="utf-8").splitlines()
        self.calls: list[tuple[str, Any]] = []

    def launch(self, task: dict[str, Any], cluster: str) -> int:
        spec_file = Path(task["file_mounts"]["~/perfsup-spec.json"])
        self.calls.append(("launch", (task, cluster, spec_file.read_text())))
        return 1

    def tail_logs(self, cluster: str, job_id: int) -> Iterable[str]:
        self.calls.append(("tail_logs", (cluster, job_id)))
        yield from self.log

    def cancel(self, cluster: str, job_id: int) -> None:
        self.calls.append(("cancel", (cluster, job_id)))


def test_skypilot_job_runs_the_runner_and_the_engine_decides_on_its_log(
    tmp_path: Path,
) -> None:
    from perfsup.workspace.sky_executor import SkyExperiments

    recorder = SkyRecorder(DATA / "sky_replay.log")
    engine = sky_engine(tmp_path, SkyExperiments("bench", sdk=recorder))
    store = engine.store
    engine.run()
    kind, (task, cluster, spec_text) = recorder.calls[0]
    assert (kind, cluster) == ("launch", "bench")
    assert task["run"] == "python -m perfsup.workspace.experiment_runner ~/perfsup-spec.json"
    spec = ExperimentSpec.from_json(spec_text)
    assert spec.patch is not None and "+X = 2" in spec.patch
    assert [p["phase"] for p in spec.plan] == ["calibrate", "decide", "verify"]
    with store.session() as s:
        node = s.get(Node, "1.1")
        samples = s.exec(select(Sample).where(Sample.node_id == "1.1")).all()
    assert node is not None and node.status in ("kept", "discarded"), node and node.reason
    assert {x.host for x in samples} == {"sky-node-1"}
    assert {x.phase for x in samples} >= {"calibrate", "decide"}
    store.close()


def test_executor_section_needs_its_address(tmp_path: Path) -> None:
    from perfsup.config import ConfigError

    config_path = _engine_target(tmp_path, "echo METRIC t=1")
    config_path.write_text(config_path.read_text() + '\n[executor]\nkind = "dask"\n')
    with pytest.raises(ConfigError, match="scheduler"):
        load_config(config_path)


def test_lost_stream_is_reported(tmp_path: Path) -> None:
    from perfsup.workspace.sky_executor import SkyExperiments

    cut = tmp_path / "cut.log"
    cut.write_text("\n".join((DATA / "sky_replay.log").read_text().splitlines()[:20]))
    handle = SkyExperiments("bench", sdk=SkyRecorder(cut)).submit(make_spec(tmp_path))
    with pytest.raises(ExperimentLost):
        for _ in range(100):
            handle.lines(0.1)


def test_noisy_host_leaves_the_pool_with_an_event(tmp_path: Path, dask_client: Any) -> None:
    """A host whose A/A benchmark varies far more than min_effect is taken out of
    the pool (event `host_removed`); with no host left, the run stops and says why."""
    from perfsup.workspace.dask_executor import DaskExperiments

    # Real timings would be too quiet to be sure; this bench varies by +-50%.
    noisy = "python -c \"import random; print('METRIC t=%f' % random.uniform(1, 3))\"\n"
    config_path = _engine_target(tmp_path, noisy)
    text = config_path.read_text().replace("calibration_pairs = 0", "calibration_pairs = 6")
    config_path.write_text(text.replace("[decision]", '[decision]\non_noise = "stop"'))
    engine = build_engine(
        config_path, tmp_path / "run", seed=3, experiments=DaskExperiments(dask_client)
    )
    store = engine.store
    outcome = engine.run()
    with store.session() as s:
        events = s.exec(select(Event).where(Event.kind == "host_removed")).all()
        node = s.get(Node, "1.1")
        samples = s.exec(select(Sample).where(Sample.node_id == "1.1")).all()
    store.close()
    (worker,) = dask_client.scheduler_info()["workers"]
    assert len(events) == 1 and worker in events[0].message
    assert "A/A noise" in events[0].message
    assert outcome.status == "stopped" and "no host left" in outcome.reason
    assert node is not None and node.status == "cancelled"
    # Only the A/A samples that showed the noise are kept; nothing was judged there.
    assert samples and {x.phase for x in samples} == {"calibrate"}
