"""The engine loop on small real targets: real git, real subprocesses, a real
SQLite store; only the model is scripted."""

from __future__ import annotations

import textwrap
from pathlib import Path

import psutil
from sqlmodel import select

from perfsup.engine.loop import Engine
from perfsup.engine.rundir import RunPaths
from perfsup.store import Event, ModelCall, Node, Run, RunStatus
from tests.helpers import build_engine, git, make_repo

APP = "def work(n):\n    return sum(range(n))\n"


def answer(description: str, search: str, replace: str, path: str = "src/app.py") -> str:
    return (
        f"DESCRIPTION: {description}\n{path}\n<<<<<<< SEARCH\n{search}=======\n"
        f"{replace}>>>>>>> REPLACE\n"
    )


def setup_target(
    tmp_path: Path, bench: str, answers: list[str], extra: str = "", bench_timeout: float = 30
) -> Path:
    make_repo(tmp_path / "repo", {"src/app.py": APP, "bench.sh": bench})
    script = tmp_path / "answers.toml"
    script.write_text("".join(f"[[answer]]\ntext = '''\n{a}'''\n\n" for a in answers))
    config = tmp_path / "perfsup.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            [target]
            repo = "repo"
            goal = "make work() faster"
            [build]
            run = "python -c 'import ast,sys; ast.parse(open(\\"src/app.py\\").read())'"
            [bench]
            run = "bash bench.sh"
            timeout_s = {bench_timeout}
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
            max_retries = 1
            [decision]
            max_load_per_core = 0  # test machines are shared: never wait for load
            """
        )
        + extra
    )
    return config


def run_engine(config_path: Path, tmp_path: Path) -> tuple[Engine, RunPaths]:
    engine = build_engine(config_path, tmp_path / "run")
    engine.run()
    return engine, engine.paths


def nodes(engine: Engine) -> dict[str, Node]:
    with engine.store.session() as s:
        return {n.id: n for n in s.exec(select(Node)).all()}


CHANGE = answer(
    "return the closed form", "    return sum(range(n))\n", "    return n * (n - 1) // 2\n"
)


def test_bench_without_metric_ends_node_crashed_with_reason(tmp_path: Path) -> None:
    config = setup_target(tmp_path, "echo 'no metric here'\n", [CHANGE])
    engine, _ = run_engine(config, tmp_path)
    node = nodes(engine)["1.1"]
    assert node.status == "crashed"
    assert node.reason is not None
    assert "no value for metric 't'" in node.reason and "METRIC t=<number>" in node.reason


def test_hanging_bench_is_killed_at_its_timeout(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    bench = f"sleep 300 & echo $! >> {pid_file}\nsleep 300 & echo $! >> {pid_file}\nwait\n"
    config = setup_target(tmp_path, bench, [CHANGE], bench_timeout=1.5)
    engine, _ = run_engine(config, tmp_path)
    node = nodes(engine)["1.1"]
    assert node.status == "timeout"
    assert "did not finish within 1.5 s" in (node.reason or "")
    pids = [int(p) for p in pid_file.read_text().split()]
    assert pids
    assert not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]


def test_malformed_answer_is_kept_for_the_person(tmp_path: Path) -> None:
    garbage = "I think you should use numpy here, it is faster."
    config = setup_target(tmp_path, "echo 'METRIC t=1'\n", [garbage, garbage])
    engine, _ = run_engine(config, tmp_path)
    node = nodes(engine)["1.1"]
    assert node.status == "malformed"
    assert garbage in node.answer_text
    assert "2 tries" in (node.reason or "")
    with engine.store.session() as s:
        calls = s.exec(select(ModelCall).where(ModelCall.node_id == "1.1")).all()
    assert [c.attempt for c in calls] == [0, 1]


def test_retry_after_a_search_block_that_does_not_match(tmp_path: Path) -> None:
    wrong = answer("closed form", "    return sum(range(m))\n", "    return n * (n - 1) // 2\n")
    config = setup_target(tmp_path, "echo 'METRIC t=1'\n", [wrong, CHANGE])
    engine, _ = run_engine(config, tmp_path)
    node = nodes(engine)["1.1"]
    assert node.status == "discarded"  # equal timings: nothing to keep
    assert "n * (n - 1) // 2" in node.diff
    assert node.decision_rule == "sequential-hl-wilcoxon-v2"


def test_token_budget_stops_the_run_with_the_reason(tmp_path: Path) -> None:
    config = setup_target(
        tmp_path, "echo 'METRIC t=1'\n", [CHANGE] * 5, extra="[budgets]\nmax_tokens = 10\n"
    )
    engine, _ = run_engine(config, tmp_path)
    with engine.store.session() as s:
        run = s.exec(select(Run)).one()
    assert run.status == RunStatus.FINISHED
    assert "token budget reached" in (run.stop_reason or "")
    assert len(nodes(engine)) == 2  # the baseline and the one experiment the budget allowed


def test_baseline_that_fails_its_build_fails_the_run(tmp_path: Path) -> None:
    config = setup_target(tmp_path, "echo 'METRIC t=1'\n", [CHANGE])
    (tmp_path / "repo" / "src" / "app.py").write_text("def broken(:\n")
    git(tmp_path / "repo", "commit", "-qam", "break")
    engine, _ = run_engine(config, tmp_path)
    with engine.store.session() as s:
        run = s.exec(select(Run)).one()
    assert run.status == RunStatus.FAILED
    assert "the baseline fails: build exited with status 1" in (run.stop_reason or "")


def test_restart_marks_in_flight_nodes_interrupted_and_continues(tmp_path: Path) -> None:
    other = answer("count from zero", "    return sum(range(n))\n", "    return sum(range(0, n))\n")
    config = setup_target(tmp_path, "echo 'METRIC t=1'\n", [CHANGE, other])
    engine, _ = run_engine(config, tmp_path)
    before = nodes(engine)
    assert before["1.2"].status == "discarded"
    with engine.store.session() as s:  # pretend the engine died mid-benchmark
        node = s.get(Node, "1.1")
        assert node is not None
        node.status = "benchmarking"
    engine.store.close()
    again, _ = run_engine(config, tmp_path)
    found = nodes(again)
    assert found["1.1"].status == "interrupted"
    assert found["1.2"].diff == before["1.2"].diff  # finished work untouched
    assert found["1.2"].status == "discarded"
    assert {"1.3", "1.4"} <= set(found)  # the run went on with new experiments
    with again.store.session() as s:
        events = [e.kind for e in s.exec(select(Event)).all()]
    assert "node_interrupted" in events and "run_resumed" in events


def test_an_identical_diff_is_refused_before_it_is_built(tmp_path: Path) -> None:
    config = setup_target(tmp_path, "echo 'METRIC t=1'\n", [CHANGE, CHANGE])
    engine, paths = run_engine(config, tmp_path)
    found = nodes(engine)
    assert found["1.2"].status == "rejected"
    assert found["1.2"].reason == "identical to 1.1"
    assert found["1.2"].diff == found["1.1"].diff
    assert not paths.log("1.2", "build").exists()  # never built, never measured


def test_a_change_interrupted_by_a_crash_may_be_tried_again(tmp_path: Path) -> None:
    config = setup_target(tmp_path, "echo 'METRIC t=1'\n", [CHANGE])
    engine, _ = run_engine(config, tmp_path)
    with engine.store.session() as s:  # pretend the engine died while measuring 1.1
        node = s.get(Node, "1.1")
        assert node is not None
        node.status = "benchmarking"
    engine.store.close()
    again, _ = run_engine(config, tmp_path)
    found = nodes(again)
    assert found["1.1"].status == "interrupted"
    assert found["1.2"].status == "discarded"  # the same diff, measured this time


def test_restart_marks_a_child_that_never_started_interrupted(tmp_path: Path) -> None:
    other = answer("count from zero", "    return sum(range(n))\n", "    return sum(range(0, n))\n")
    config = setup_target(tmp_path, "echo 'METRIC t=1'\n", [CHANGE, other])
    engine, _ = run_engine(config, tmp_path)
    with engine.store.session() as s:  # the engine died right after creating 1.3
        s.add(Node(id="1.3", run_id=1, parent_id="1", ordinal=3, depth=1))
    engine.store.close()
    again, _ = run_engine(config, tmp_path)
    found = nodes(again)
    assert found["1.3"].status == "interrupted"
    assert not [n for n in found.values() if n.status == "queued"]
