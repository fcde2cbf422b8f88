"""People's commands, sent while an experiment is running, and their effect on
the store. The engine runs in a thread on a real target with a real git repo,
real benchmark processes and a real SQLite file; the test talks to it only
through a second connection to the store, like `perfsup ctl` and the TUI."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
from sqlmodel import col, select

from perfsup.engine.loop import RUN_DIR_MARKER, Engine, RunOutcome
from perfsup.engine.rundir import RunPaths
from perfsup.store import Event, Node, Run, Store, open_store
from perfsup.store.commands import enqueue_command
from perfsup.store.models import Command, CommandStatus
from tests.helpers import (
    bench_sh_config,
    build_engine,
    holds_throughout,
    make_repo,
    wait_until,
)

# COST is what the benchmark reports (plus noise); the model's answers change it.
APP = "COST = 100\n\n\ndef work(n):\n    return sum(range(n))\n"
BENCH = """\
while [ -e {delay} ]; do sleep 0.05; done
cost=$(python -c 'import sys; sys.path.insert(0, "src"); import app; print(app.COST)')
echo "METRIC t=$(( cost * 100 + RANDOM % 10 ))"
"""


def cost_answer(old: int, new: int, what: str) -> str:
    return (
        f"DESCRIPTION: {what}\nsrc/app.py\n<<<<<<< SEARCH\nCOST = {old}\n=======\n"
        f"COST = {new}\n>>>>>>> REPLACE\n"
    )


FASTER = cost_answer(100, 50, "halve the cost")  # kept: every pair wins by half
FASTER_AGAIN = cost_answer(50, 25, "halve it again")


def no_gain(i: int) -> str:
    """A change that does not change the cost; each i gives a different diff."""
    return (
        f"DESCRIPTION: count from zero {i}\nsrc/app.py\n<<<<<<< SEARCH\n"
        "    return sum(range(n))\n=======\n"
        f"    return sum(range(0, n)) + {i} * 0\n>>>>>>> REPLACE\n"
    )


NO_GAINS = [no_gain(i) for i in range(1, 6)]
NO_GAIN = NO_GAINS[0]


@dataclass
class Live:
    """An engine running in a thread and a second store connection to it."""

    engine: Engine
    store: Store
    delay: Path  # while this file exists, every benchmark run waits
    paths: RunPaths
    thread: threading.Thread
    outcome: list[RunOutcome]

    def hold(self) -> None:
        self.delay.write_text("hold")

    def release(self) -> None:
        self.delay.unlink(missing_ok=True)

    def node(self, node_id: str) -> Node | None:
        with self.store.session() as s:
            return s.get(Node, node_id)

    def wait(self, what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
        return wait_until(check, what=what, timeout=timeout)

    def status_of(self, node_id: str) -> str | None:
        node = self.node(node_id)
        return node.status if node else None

    def wait_status(self, node_id: str, status: str, timeout: float = 30.0) -> None:
        self.wait(f"{node_id} {status}", lambda: self.status_of(node_id) == status, timeout)

    def send(self, kind: str, **args: Any) -> Command:
        """Enqueue a command and wait until the engine has settled it."""
        with self.store.session() as s:
            command_id = enqueue_command(s, kind, args).id

        def settled() -> Command | None:
            with self.store.session() as s:
                got = s.get(Command, command_id)
                return got if got and got.status != CommandStatus.PENDING else None

        command: Command = self.wait(f"command {kind} settled", settled, timeout=5.0)
        return command

    def run(self, run_id: int = 1) -> Run:
        with self.store.session() as s:
            run = s.get(Run, run_id)
            assert run is not None
            return run

    def engine_state(self) -> str:
        with self.store.session() as s:
            run = s.get(Run, 1)
            return run.engine_state if run else ""

    def events(self, actor: str = "human") -> list[Event]:
        with self.store.session() as s:
            return list(s.exec(select(Event).where(Event.actor == actor)).all())

    def bench_processes(self) -> list[psutil.Process]:
        found = []
        for proc in psutil.process_iter():
            try:
                if proc.environ().get(RUN_DIR_MARKER) == str(self.paths.root):
                    found.append(proc)
            except (psutil.Error, OSError):
                continue
        return found

    def finish(self, timeout: float = 60.0) -> RunOutcome:
        self.release()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the engine did not finish"
        return self.outcome[0]


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Callable[..., Live]]:
    started: list[Live] = []

    def start(answers: list[str], extra: str = "", hold: bool = True) -> Live:
        delay_file = tmp_path / "hold"
        if hold:
            delay_file.write_text("hold")
        make_repo(
            tmp_path / "repo", {"src/app.py": APP, "bench.sh": BENCH.format(delay=delay_file)}
        )
        script = tmp_path / "answers.toml"
        script.write_text("".join(f"[[answer]]\ntext = '''\n{a}'''\n\n" for a in answers))
        config_path = tmp_path / "perfsup.toml"
        config_path.write_text(
            bench_sh_config(
                goal="lower the cost", pairs=6, bench="timeout_s = 120", model="max_retries = 0"
            )
            + extra
        )
        engine = build_engine(config_path, tmp_path / "run")
        paths = engine.paths
        outcome: list[RunOutcome] = []
        thread = threading.Thread(target=lambda: outcome.append(engine.run()), daemon=True)
        thread.start()
        handle = Live(engine, open_store(paths.store), delay_file, paths, thread, outcome)
        started.append(handle)
        return handle

    yield start
    for handle in started:
        handle.release()
        handle.engine.controls.stop("test over")
        handle.thread.join(30)
        handle.store.close()
        handle.engine.store.close()


def test_pause_during_a_long_benchmark_stops_it_and_reruns_it_on_resume(
    live: Callable[..., Live],
) -> None:
    run = live([NO_GAIN])
    run.wait_status("1.1", "benchmarking")
    run.wait("a bench process", run.bench_processes)
    command = run.send("pause")
    assert command.status == "applied"
    run.wait("paused state", lambda: run.run().engine_state == "paused", timeout=5.0)
    run.wait("bench killed", lambda: not run.bench_processes(), timeout=5.0)
    # paused means paused: nothing starts again
    holds_throughout(lambda: not run.bench_processes(), what="no bench process while paused")
    assert run.status_of("1.1") == "benchmarking"
    assert any(e.kind == "command_pause" for e in run.events())

    run.release()
    assert run.send("resume").status == "applied"
    run.wait_status("1.1", "discarded")
    with run.store.session() as s:
        node = s.get(Node, "1.1")
        assert node is not None and node.pairs_used == 6  # the paused pair ran again, whole
    outcome = run.finish()
    assert "no answers left" in outcome.reason  # the script ran out: a normal end


def test_resume_when_not_paused_is_refused_with_a_reason(live: Callable[..., Live]) -> None:
    run = live([NO_GAIN])
    run.wait_status("1.1", "benchmarking")
    command = run.send("resume")
    assert command.status == "rejected" and command.result == "the engine is not paused"
    assert any("refused: the engine is not paused" in e.message for e in run.events())


def alive(proc: psutil.Process) -> bool:
    """Running and not a zombie (a killed process its parent has not reaped yet)."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def test_abort_cancels_the_experiment_and_kills_its_processes(live: Callable[..., Live]) -> None:
    run = live(NO_GAINS[:2])
    run.wait_status("1.1", "benchmarking")
    run.wait("a bench process", run.bench_processes)
    benching = run.bench_processes()  # 1.1's; the engine goes on to 1.2's at once
    assert run.send("abort").status == "applied"
    run.wait_status("1.1", "cancelled", timeout=5.0)
    node = run.node("1.1")
    assert node is not None and node.reason == "aborted by a person"
    run.wait("bench killed", lambda: not any(alive(p) for p in benching), timeout=5.0)
    run.wait_status("1.2", "benchmarking")  # the engine went on
    assert not (run.paths.worktrees / "1.1").exists()
    run.finish()


def test_prune_aborts_running_work_inside_and_blocks_new_children(
    live: Callable[..., Live],
) -> None:
    run = live([FASTER, FASTER_AGAIN, *NO_GAINS[:2]], hold=False)
    run.wait_status("1.1", "kept")
    run.hold()
    run.wait_status("1.1.1", "benchmarking")  # the child of the kept node
    assert run.send("prune", node="1.1").status == "applied"
    run.wait_status("1.1.1", "pruned", timeout=5.0)
    kept = run.node("1.1")
    assert kept is not None and kept.status == "pruned"
    assert "was kept" in (kept.reason or "")
    run.release()
    run.wait_status("1.2", "discarded")  # the next experiment grew from the root
    run.finish()
    with run.store.session() as s:
        under = s.exec(select(Node.id).where(col(Node.id).startswith("1.1."))).all()
    assert list(under) == ["1.1.1"]


def test_priority_is_stored_and_steers_the_next_parent(live: Callable[..., Live]) -> None:
    run = live([FASTER, *NO_GAINS[:3]], hold=False)
    run.wait_status("1.1", "kept")
    run.hold()
    run.wait_status("1.1.1", "benchmarking")
    refused = run.send("priority", node="1", priority=5)  # issue 18: never the baseline's
    assert refused.status == "rejected" and "1 is the baseline" in (refused.result or "")
    assert run.send("priority", node="1.1", priority=-5).status == "applied"
    lowered = run.node("1.1")
    assert lowered is not None and lowered.priority == -5
    assert run.send("priority", node="1.1", priority="high").status == "rejected"
    run.release()
    run.wait_status("1.2", "discarded")  # the root outranks the faster 1.1 now
    run.finish()


def test_promote_starts_run_two_from_the_node(live: Callable[..., Live]) -> None:
    run = live([FASTER, *NO_GAINS[:3]], hold=False)
    run.wait_status("1.1", "kept")
    run.hold()
    run.wait_status("1.1.1", "benchmarking")
    refused = run.send("promote", node="1.1.1")
    assert refused.status == "rejected" and "only a kept node" in (refused.result or "")
    assert run.send("promote", node="1.1").status == "applied"
    second = run.run(2)
    assert second.from_node_id == "1.1" and second.root_node_id == "2"
    kept = run.node("1.1")
    assert kept is not None and second.baseline_commit == kept.commit_sha
    run.release()
    run.wait_status("2.1", "discarded")
    run.finish()
    assert "promoted" in (run.run(1).stop_reason or "")
    assert run.status_of("1.1.1") == "discarded"  # the experiment in flight finished first


def test_steer_changes_the_goal_and_adds_a_hint_to_the_next_prompt(
    live: Callable[..., Live],
) -> None:
    run = live(NO_GAINS[:2])
    run.wait_status("1.1", "benchmarking")
    assert run.send("steer", goal="make work() faster for big n").status == "applied"
    assert run.run().goal == "make work() faster for big n"
    assert run.send("steer", hint="try a closed form").status == "applied"
    assert run.send("steer").status == "rejected"
    run.release()
    run.wait_status("1.2", "discarded")
    prompt = (run.paths.logs / "1.2" / "prompt.log").read_text()
    assert "try a closed form" in prompt and "make work() faster for big n" in prompt
    run.finish()
    saved = json.loads((run.paths.root / "overrides.json").read_text())
    assert saved["hints"] == ["try a closed form"]


def test_budgets_change_live_and_are_saved(live: Callable[..., Live]) -> None:
    run = live(NO_GAINS[:3])
    run.wait_status("1.1", "benchmarking")
    bad = run.send("budgets", max_experiment=3)
    assert bad.status == "rejected" and "max_experiment" in (bad.result or "")
    bad = run.send("budgets", max_experiments=0)
    assert bad.status == "rejected" and "max_experiments" in (bad.result or "")
    assert run.send("budgets", max_experiments="1").status == "applied"
    outcome = run.finish()
    assert outcome.reason == "experiment budget reached (1 of 1)"
    saved = json.loads((run.paths.root / "overrides.json").read_text())
    assert saved["budgets"] == {"max_experiments": "1"}


def test_stop_cancels_the_experiment_and_stops_the_run(live: Callable[..., Live]) -> None:
    run = live(NO_GAINS[:2])
    run.wait_status("1.1", "benchmarking")
    assert run.send("stop").status == "applied"
    run.wait_status("1.1", "cancelled", timeout=5.0)
    run.thread.join(5)
    assert not run.thread.is_alive()
    assert run.run().status == "stopped" and run.run().engine_state == "stopped"
    assert not run.bench_processes()


BROKEN = [
    cost_answer(100, n, f"break it {n}").replace(f"COST = {n}", f"COST = {n} +") for n in (1, 2, 3)
]


def test_failures_in_a_row_pause_the_run_and_say_why(live: Callable[..., Live]) -> None:
    run = live([*BROKEN, NO_GAIN], extra="[budgets]\npause_after_failures = 2\n", hold=False)
    run.wait("paused", lambda: run.engine_state() == "paused")
    detail = run.run().engine_detail
    assert "2 experiments in a row failed" in detail and "1.2 malformed" in detail
    with run.store.session() as s:
        paused = s.exec(select(Event).where(Event.kind == "paused")).all()
    assert len(paused) == 1 and paused[0].actor == "engine"
    assert run.status_of("1.3") is None  # nothing new while paused
    assert run.send("resume").status == "applied"
    run.wait_status("1.4", "discarded")  # 1.3 fails once more, then the good answer
    run.finish()


def test_a_nearly_full_disk_pauses_the_run_with_a_message(live: Callable[..., Live]) -> None:
    run = live([NO_GAIN], extra="[run]\nmin_free_mb = 1000000000\n", hold=False)
    run.wait("paused", lambda: run.engine_state() == "paused")
    assert "MiB free on the disk" in run.run().engine_detail
    assert run.status_of("1.1") is None
    assert run.send("stop").status == "applied"
    run.thread.join(10)
    assert run.run().status == "stopped"


def test_editing_the_config_applies_live_keys_and_refuses_others(
    live: Callable[..., Live], tmp_path: Path
) -> None:
    run = live(NO_GAINS[:3])
    run.wait_status("1.1", "benchmarking")
    config = tmp_path / "perfsup.toml"
    text = config.read_text()
    config.write_text(text.replace("pairs = 6", "pairs = x"))  # broken: refused, run goes on
    run.wait("refusal", lambda: [e for e in run.events() if "not reloaded" in e.message])
    edited = text.replace(
        'goal = "lower the cost"', 'goal = "lower the cost a lot"\nhints = ["try caching"]'
    )
    config.write_text(edited.replace("pairs = 6", "pairs = 4") + "[budgets]\nmax_experiments = 1\n")
    run.wait("goal", lambda: run.run().goal == "lower the cost a lot", timeout=10)
    refused = run.wait(
        "refusal of bench.pairs",
        lambda: [e for e in run.events() if "bench.pairs" in e.message],
    )
    assert "target.goal" not in refused[0].message
    run.wait("budgets", lambda: run.engine.controls.budgets.max_experiments == 1)
    assert "try caching" in run.engine.controls.hint_list()
    assert run.engine.config.bench.pairs == 6  # the criteria did not change under the run
    outcome = run.finish()
    assert outcome.reason == "experiment budget reached (1 of 1)"
