"""Pipelining: with `[executor] pipeline = true` the next proposal is written
while the current experiment benchmarks; off (the default), the model never
runs during a benchmark. Real git, real benchmark processes that stamp the
wall time of every run, a real SQLite store; only the model is scripted (and
slowed down like a real one)."""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from perfsup.agent.scripted import ScriptedBackend
from perfsup.config import load_config
from perfsup.engine.loop import Engine, RunOutcome
from perfsup.engine.rundir import RunPaths
from perfsup.store import Event, ModelCall, Node, NodeStatus, Sample, open_store
from perfsup.store.commands import enqueue_command
from perfsup.store.models import IN_FLIGHT
from perfsup.tui.service import RunService
from tests.helpers import bench_sh_config, build_engine, git, make_repo, wait_until

APP = "def work(n):\n    return sum(range(n))\n"
# Every benchmark run stamps its start and end (epoch seconds) outside the repository.
BENCH = """\
echo "start $(date +%s.%N)" >> {stamps}
while [ -e {hold} ]; do sleep 0.05; done
sleep {sleep}
echo "end $(date +%s.%N)" >> {stamps}
echo "METRIC t=$((1000 + RANDOM % 10))"
"""


def no_gain(i: int) -> str:
    """A change that measures the same as its parent; each i gives its own diff."""
    words = " ".join(["it counts the same numbers, only written another way"] * 2)
    return (
        f"DESCRIPTION: count from zero {i}\nRATIONALE: {words}\nsrc/app.py\n"
        "<<<<<<< SEARCH\n    return sum(range(n))\n=======\n"
        f"    return sum(range(0, n)) + {i} * 0\n>>>>>>> REPLACE\n"
    )


@dataclass
class Target:
    config: Path
    stamps: Path
    hold: Path
    paths: RunPaths


def make_target(
    tmp_path: Path, *, pipeline: bool | None, answers: int, sleep: float, extra: str = ""
) -> Target:
    stamps, hold = tmp_path / "stamps", tmp_path / "hold"
    bench = BENCH.format(stamps=stamps, hold=hold, sleep=sleep)
    make_repo(tmp_path / "repo", {"src/app.py": APP, "bench.sh": bench})
    (tmp_path / "answers.toml").write_text(
        "".join(f"[[answer]]\ntext = '''\n{no_gain(i)}'''\n\n" for i in range(1, answers + 1))
    )
    executor = "" if pipeline is None else f"[executor]\npipeline = {str(pipeline).lower()}\n"
    config = tmp_path / "perfsup.toml"
    decision = "[decision]\ncalibration_pairs = 0\nmax_load_per_core = 0\n"  # shared machines
    config.write_text(
        bench_sh_config(bench="timeout_s = 120", model="max_retries = 0", tables=decision)
        + executor
        + extra
    )
    return Target(config, stamps, hold, RunPaths(tmp_path / "run"))


def engine_for(target: Target, chunk_delay_s: float) -> Engine:
    script = Path(load_config(target.config).model.script or "")
    backend = ScriptedBackend(script, chunk_delay_s=chunk_delay_s)  # a model that takes time
    engine: Engine = build_engine(target.config, target.paths.root, backend=backend)
    return engine


def _epoch(moment: datetime) -> float:
    return moment.replace(tzinfo=UTC).timestamp()  # the store keeps UTC without its zone


def bench_runs(stamps: Path) -> list[tuple[float, float]]:
    """(start, end) of every benchmark run, from the stamps the runs wrote."""
    lines = stamps.read_text().split("\n")
    starts = [float(ln.split()[1]) for ln in lines if ln.startswith("start ")]
    ends = [float(ln.split()[1]) for ln in lines if ln.startswith("end ")]
    assert len(starts) == len(ends) and starts
    return list(zip(starts, ends, strict=True))


def model_calls(engine: Engine) -> list[tuple[str, float, float]]:
    """(node, start, end) of every model call."""
    with engine.store.session() as s:
        calls = s.exec(select(ModelCall)).all()
    return [
        (c.node_id or "", _epoch(c.created_at) - (c.total_s or 0.0), _epoch(c.created_at))
        for c in calls
    ]


def overlaps(engine: Engine, stamps: Path) -> list[str]:
    """The model calls that ran while a benchmark run ran."""
    runs = bench_runs(stamps)
    return [
        node
        for node, start, end in model_calls(engine)
        if any(start < run_end and run_start < end for run_start, run_end in runs)
    ]


def run_to_end(target: Target, chunk_delay_s: float) -> tuple[Engine, RunOutcome]:
    engine = engine_for(target, chunk_delay_s)
    outcome = engine.run()
    return engine, outcome


def all_nodes(engine: Engine) -> dict[str, Node]:
    with engine.store.session() as s:
        return {n.id: n for n in s.exec(select(Node)).all()}


BUDGET = "[budgets]\nmax_experiments = 3\n"


def test_pipeline_proposes_the_next_experiment_while_one_benchmarks(tmp_path: Path) -> None:
    runs: dict[bool, tuple[Engine, RunOutcome, list[str]]] = {}
    for pipeline in (False, True):
        where = tmp_path / ("on" if pipeline else "off")
        target = make_target(where, pipeline=pipeline, answers=5, sleep=0.25, extra=BUDGET)
        engine, outcome = run_to_end(target, chunk_delay_s=0.03)
        runs[pipeline] = (engine, outcome, overlaps(engine, target.stamps))

    off, on = runs[False], runs[True]
    # The same experiments, every one in a final state, for the same reason.
    for engine, outcome, _ in (off, on):
        nodes = all_nodes(engine)
        assert sorted(nodes) == ["1", "1.1", "1.2", "1.3"]
        assert all(NodeStatus(n.status).finished for n in nodes.values()), nodes
        assert [nodes[i].status for i in ("1.1", "1.2", "1.3")] == ["discarded"] * 3
        assert outcome.reason == "experiment budget reached (3 of 3)"
    # Off: no model call ever overlaps a benchmark run.
    assert off[2] == []
    # On: 1.2 and 1.3 were proposed while 1.1 and 1.2 benchmarked.
    assert sorted(set(on[2])) == ["1.2", "1.3"]
    engine = on[0]
    calls = {node: start for node, start, _ in model_calls(engine)}
    with engine.store.session() as s:
        ahead = s.exec(select(Event).where(Event.kind == "proposal_ahead")).all()
        last_sample: dict[str, float] = {}
        for sample in s.exec(select(Sample)).all():
            when = _epoch(sample.measured_at)
            last_sample[sample.node_id] = max(when, last_sample.get(sample.node_id, when))
    assert [e.node_id for e in ahead] == ["1.2", "1.3"]
    assert "while 1.1 benchmarks" in ahead[0].message
    assert calls["1.2"] < last_sample["1.1"]  # started before 1.1's benchmark ended
    assert calls["1.3"] < last_sample["1.2"]
    assert _epoch(ahead[0].created_at) <= calls["1.2"]


@pytest.fixture
def held(tmp_path: Path) -> Iterator[tuple[Target, Engine, threading.Thread]]:
    """An engine in a thread whose benchmarks wait while the hold file exists."""
    target = make_target(tmp_path, pipeline=True, answers=4, sleep=0.05)
    target.hold.write_text("hold")
    engine = engine_for(target, chunk_delay_s=0.25)  # about 5 s an answer
    thread = threading.Thread(target=engine.run, daemon=True)
    thread.start()
    yield target, engine, thread
    target.hold.unlink(missing_ok=True)
    engine.controls.stop("test over")
    thread.join(60)
    engine.store.close()


def status(target: Target, node_id: str) -> str | None:
    store = open_store(target.paths.store)
    try:
        with store.session() as s:
            node = s.get(Node, node_id)
            return node.status if node else None
    finally:
        store.close()


def send(target: Target, kind: str, **args: object) -> None:
    store = open_store(target.paths.store)
    try:
        with store.session() as s:
            enqueue_command(s, kind, dict(args))
    finally:
        store.close()


def test_stop_during_a_proposal_ahead_ends_every_node_and_leaves_no_worktree(
    held: tuple[Target, Engine, threading.Thread],
) -> None:
    target, engine, thread = held
    wait_until(lambda: status(target, "1.1") == "benchmarking", what="1.1 benchmarking")
    wait_until(lambda: status(target, "1.2") == "proposing", what="1.2 proposing ahead")
    send(target, "stop")
    thread.join(30)
    assert not thread.is_alive(), "the engine did not stop"
    nodes = all_nodes(engine)
    assert not [n.id for n in nodes.values() if n.status in IN_FLIGHT or n.status == "queued"]
    assert nodes["1.1"].status == "cancelled" and nodes["1.2"].status == "cancelled"
    assert "stopped by a person" in (nodes["1.2"].reason or "")
    for node_id in ("1.1", "1.2"):
        assert not (target.paths.worktrees / node_id).exists()
    listed = git(target.config.parent / "repo", "worktree", "list")
    assert "1.1" not in listed and "1.2" not in listed


def test_abort_ends_the_benchmark_and_measures_the_proposal_ahead_next(
    held: tuple[Target, Engine, threading.Thread],
) -> None:
    target, _engine, _ = held
    wait_until(lambda: status(target, "1.1") == "benchmarking", what="1.1 benchmarking")
    wait_until(lambda: status(target, "1.2") == "proposing", what="1.2 proposing ahead")
    # What the TUI's status line shows: the benchmark first, then the proposal ahead.
    service = RunService(open_store(target.paths.store), target.paths, None)
    assert service.status().current == "1.1 benchmarking, 1.2 proposing"
    service.store.close()
    send(target, "abort")
    wait_until(lambda: status(target, "1.1") == "cancelled", what="1.1 cancelled", timeout=10)
    assert status(target, "1.2") == "proposing"  # the abort is the benchmark's only
    target.hold.unlink()
    wait_until(lambda: status(target, "1.2") == "discarded", what="1.2 measured", timeout=60)


def test_prune_reaches_the_proposal_ahead(
    held: tuple[Target, Engine, threading.Thread],
) -> None:
    target, engine, _ = held
    wait_until(lambda: status(target, "1.1") == "benchmarking", what="1.1 benchmarking")
    wait_until(lambda: status(target, "1.2") == "proposing", what="1.2 proposing ahead")
    send(target, "prune", node="1.2")
    target.hold.unlink()
    wait_until(lambda: status(target, "1.2") == "pruned", what="1.2 pruned", timeout=30)
    node = all_nodes(engine)["1.2"]
    assert node.reason == "pruned with 1.2 by a person"
    assert not (target.paths.worktrees / "1.2").exists()


COST_APP = "COST = 100\n\n\ndef work(n):\n    return sum(range(n))\n"
COST_BENCH = """\
echo "start $(date +%s.%N)" >> {stamps}
cost=$(python -c 'import sys; sys.path.insert(0, "src"); import app; print(app.COST)')
echo "end $(date +%s.%N)" >> {stamps}
echo "METRIC t=$(( cost * 100 + RANDOM % 10 ))"
"""
PROFILED = "import sys\nsys.path.insert(0, 'src')\nimport app\napp.work(1000)\n"
HALVE = (
    "DESCRIPTION: halve the cost\nsrc/app.py\n<<<<<<< SEARCH\nCOST = 100\n=======\n"
    "COST = 50\n>>>>>>> REPLACE\n"
)


def test_no_proposal_ahead_on_a_parent_that_still_needs_its_profile(tmp_path: Path) -> None:
    stamps = tmp_path / "stamps"
    make_repo(
        tmp_path / "repo",
        {
            "src/app.py": COST_APP,
            "bench.sh": COST_BENCH.format(stamps=stamps),
            "prof.py": PROFILED,
        },
    )
    answers = [HALVE, no_gain(1), no_gain(2)]
    (tmp_path / "answers.toml").write_text(
        "".join(f"[[answer]]\ntext = '''\n{a}'''\n\n" for a in answers)
    )
    config = tmp_path / "perfsup.toml"
    config.write_text(
        textwrap.dedent(
            """
            [target]
            repo = "repo"
            goal = "lower the cost"
            [bench]
            run = "bash bench.sh"
            pairs = 6
            warmup = 0
            [[metrics]]
            name = "t"
            direction = "lower"
            [access]
            writable = ["src"]
            protected = ["bench.sh", "prof.py"]
            [model]
            backend = "scripted"
            script = "answers.toml"
            max_retries = 0
            [decision]
            calibration_pairs = 0
            max_load_per_core = 0
            [profile]
            python_script = "prof.py"
            [executor]
            pipeline = true
            [budgets]
            max_experiments = 3
            explore = 0.0
            """
        )
    )
    target = Target(config, stamps, tmp_path / "hold", RunPaths(tmp_path / "run"))
    engine, _ = run_to_end(target, chunk_delay_s=0.02)
    nodes = all_nodes(engine)
    assert [nodes[i].status for i in ("1.1", "1.2")] == ["kept", "discarded"], nodes
    assert nodes["1.1.1"].parent_id == "1.1"
    with engine.store.session() as s:
        ahead = [e.node_id for e in s.exec(select(Event).where(Event.kind == "proposal_ahead"))]
        profiled = [e.node_id for e in s.exec(select(Event).where(Event.kind == "profile"))]
    # 1.2 went ahead on the profiled root; 1.1.1 waited for 1.1's profile and 1.2's benchmark.
    assert ahead == ["1.2"]
    assert "1.1" in profiled
    assert sorted(set(overlaps(engine, stamps))) == ["1.2"]
