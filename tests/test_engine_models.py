"""The engine with a real model boundary: Ollama outages, failed calls, budgets, pacing.

Real git, real subprocesses, a real store; the model is the Ollama test
server (driven through the real `ollama` client) or the scripted backend.
The clock is the only other fake: its `sleep` does what a person would do
while the engine waits (pull the model, start the server).
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import select

from perfsup.agent.factory import make_backend
from perfsup.config import load_config
from perfsup.engine.loop import RunOutcome
from perfsup.engine.rundir import RunPaths
from perfsup.store import Event, ModelCall, Node, Run, open_store
from tests.helpers import build_engine, make_repo
from tests.ollama_server import FakeModel, OllamaTestServer, free_port

APP = "def work(n):\n    return sum(range(n))\n"
GOOD = (
    "DESCRIPTION: use the closed form\n"
    "src/app.py\n<<<<<<< SEARCH\n    return sum(range(n))\n=======\n"
    "    return n * (n - 1) // 2\n>>>>>>> REPLACE\n"
)
MODEL = "qwen2.5-coder:7b"


class ActingClock:
    """Real time plus what it slept: `sleep` runs `action` and moves time on at once."""

    def __init__(self, action: Callable[[int], None] = lambda _n: None) -> None:
        self.action = action
        self.sleeps: list[float] = []
        self.skipped = 0.0

    def now(self) -> datetime:
        return datetime.now() + timedelta(seconds=self.skipped)

    def monotonic(self) -> float:
        return time.monotonic() + self.skipped

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.action(len(self.sleeps))
        time.sleep(0.01)
        self.skipped += seconds


def write_target(tmp_path: Path, model: str, budgets: str = "", answers: list[str] = ()) -> Path:  # type: ignore[assignment]
    make_repo(tmp_path / "repo", {"src/app.py": APP, "bench.sh": "echo METRIC t=1\n"})
    if answers:
        (tmp_path / "answers.toml").write_text(
            "".join(f"[[answer]]\ntext = '''\n{a}'''\n\n" for a in answers)
        )
    config = tmp_path / "perfsup.toml"
    config.write_text(
        textwrap.dedent(
            """
            [target]
            repo = "repo"
            goal = "make work() faster"
            [bench]
            run = "bash bench.sh"
            pairs = 3
            warmup = 0
            [[metrics]]
            name = "t"
            [access]
            writable = ["src"]
            protected = ["bench.sh"]
            """
        )
        + model
        + budgets
    )
    return config


def ollama_model(host: str, extra: str = "") -> str:
    head = f'[model]\nbackend = "ollama"\nname = "{MODEL}"\nhost = "{host}"\n'
    return head + f"max_retries = 1\n{extra}"


def run(config_path: Path, tmp_path: Path, clock: ActingClock) -> tuple[RunOutcome, RunPaths]:
    lines: list[str] = []
    engine = build_engine(
        config_path,
        tmp_path / "run",
        backend=make_backend(load_config(config_path)),
        report=lines.append,
        clock=clock,
    )
    store, paths = engine.store, engine.paths
    try:
        outcome = engine.run()
    finally:
        store.close()
    return outcome, paths


def events(paths: RunPaths, kind: str) -> list[str]:
    store = open_store(paths.store)
    with store.session() as s:
        found = [e.message for e in s.exec(select(Event).where(Event.kind == kind)).all()]
    store.close()
    return found


def test_a_model_not_pulled_makes_the_run_wait_visibly_until_it_is_there(tmp_path: Path) -> None:
    with OllamaTestServer() as server:
        budgets = "[budgets]\nmax_experiments = 1\n"
        config = write_target(tmp_path, ollama_model(server.host), budgets)
        seen_detail: list[str] = []

        def pull(n: int) -> None:
            store = open_store(RunPaths(tmp_path / "run").store)
            with store.session() as s:
                r = s.get(Run, 1)
                assert r is not None
                seen_detail.append(f"{r.engine_state}: {r.engine_detail}")
            store.close()
            if n == 3:  # a person pulls the model while the run waits
                server.state.models[MODEL] = FakeModel(chunks=[GOOD])

        clock = ActingClock(pull)
        outcome, paths = run(config, tmp_path, clock)
    assert clock.sleeps[:3] == [2.0, 4.0, 8.0]  # backoff
    assert seen_detail[0].startswith("waiting: waiting for the model")
    assert f"ollama pull {MODEL}" in seen_detail[0]
    waiting = events(paths, "model_waiting")
    assert len(waiting) == 1 and f"ollama pull {MODEL}" in waiting[0]
    assert events(paths, "model_back") == ["the model answers again"]
    assert "experiment budget reached" in outcome.reason
    store = open_store(paths.store)
    with store.session() as s:
        node = s.get(Node, "1.1")
        assert node is not None and node.status == "discarded"  # benchmarked: t never moves
        assert node.prompt_tokens > 0 and node.completion_tokens == 1
    store.close()


def test_a_server_that_is_down_is_waited_for_and_the_run_resumes(tmp_path: Path) -> None:
    port = free_port()
    config = write_target(
        tmp_path, ollama_model(f"http://127.0.0.1:{port}"), "[budgets]\nmax_experiments = 1\n"
    )
    servers: list[OllamaTestServer] = []

    def start_server(n: int) -> None:
        if n == 2:
            server = OllamaTestServer(port).__enter__()
            server.state.models[MODEL] = FakeModel(chunks=[GOOD])
            servers.append(server)

    try:
        outcome, paths = run(config, tmp_path, ActingClock(start_server))
    finally:
        for server in servers:
            server.__exit__()
    assert "does not answer" in events(paths, "model_waiting")[0]
    assert "experiment budget reached" in outcome.reason


def test_an_error_mid_stream_is_a_failed_call_and_the_node_crashes(tmp_path: Path) -> None:
    with OllamaTestServer() as server:
        server.state.models[MODEL] = FakeModel(chunks=["DESCRIPTION: x\n", "more"], error_after=1)
        config = write_target(
            tmp_path, ollama_model(server.host), "[budgets]\nmax_experiments = 1\n"
        )
        outcome, paths = run(config, tmp_path, ActingClock())
    store = open_store(paths.store)
    with store.session() as s:
        node = s.get(Node, "1.1")
        calls = s.exec(select(ModelCall)).all()
    store.close()
    assert node is not None and node.status == "crashed"
    assert "every model call failed" in node.reason
    assert node.answer_text == "DESCRIPTION: x\n"  # what arrived is kept
    assert [c.ok for c in calls] == [False, False]  # one try and one retry
    assert all("error was encountered" in (c.error or "") for c in calls)
    assert "experiment budget reached" in outcome.reason


def test_a_cut_prompt_is_reported_as_an_event(tmp_path: Path) -> None:
    with OllamaTestServer() as server:
        server.state.models[MODEL] = FakeModel(chunks=[GOOD], prompt_eval_count=50)
        config = write_target(
            tmp_path, ollama_model(server.host), "[budgets]\nmax_experiments = 1\n"
        )
        _outcome, paths = run(config, tmp_path, ActingClock())
    warnings = events(paths, "model_warning")
    assert len(warnings) == 1 and "probably cut" in warnings[0]


def test_unload_before_bench_sends_keep_alive_zero_before_benchmarking(tmp_path: Path) -> None:
    with OllamaTestServer() as server:
        server.state.models[MODEL] = FakeModel(chunks=[GOOD])
        extra = 'keep_alive = "5m"\nunload_before_bench = true\n'
        config = write_target(
            tmp_path, ollama_model(server.host, extra), "[budgets]\nmax_experiments = 1\n"
        )
        run(config, tmp_path, ActingClock())
        sent = [(bool(r["messages"]), r.get("keep_alive")) for r in server.state.requests]
    assert sent == [(True, "5m"), (False, 0)]


def scripted(n: int) -> str:
    return '[model]\nbackend = "scripted"\nscript = "answers.toml"\nmax_retries = 2\n'


def test_the_token_budget_ends_the_run_before_the_next_call(tmp_path: Path) -> None:
    # each answer is about 40 tokens and its prompt a few hundred: two calls pass 600
    answers = [GOOD.replace("closed form", f"idea {i}") for i in range(5)]
    config = write_target(tmp_path, scripted(0), "[budgets]\nmax_tokens = 600\n", answers)
    outcome, paths = run(config, tmp_path, ActingClock())
    store = open_store(paths.store)
    with store.session() as s:
        r = s.get(Run, 1)
        nodes = s.exec(select(Node).where(Node.parent_id.is_not(None))).all()  # type: ignore[union-attr]
        calls = s.exec(select(ModelCall)).all()
    store.close()
    assert r is not None
    assert outcome.reason.startswith("token budget reached")
    assert r.stop_reason == outcome.reason
    # checked before each call: the run stopped at the first call past the budget
    assert sum(c.prompt_tokens + c.completion_tokens for c in calls[:-1]) < 600
    assert r.tokens_used >= 600
    assert r.tokens_used == sum(c.prompt_tokens + c.completion_tokens for c in calls)
    # per node token use adds up to the run's
    assert sum(n.prompt_tokens + n.completion_tokens for n in nodes) == r.tokens_used
    assert all(n.prompt_tokens > 0 for n in nodes)


def test_the_minimum_interval_spaces_model_calls(tmp_path: Path) -> None:
    answers = [GOOD.replace("closed form", f"idea {i}") for i in range(3)]
    config = write_target(
        tmp_path,
        scripted(0),
        "[budgets]\nmax_experiments = 3\nmin_call_interval_s = 30\n",
        answers,
    )
    clock = ActingClock()
    outcome, _paths = run(config, tmp_path, clock)
    assert "experiment budget reached (3 of 3)" in outcome.reason
    # before calls 2 and 3 the engine waited for what was left of the 30 s interval
    assert len(clock.sleeps) == 2
    assert all(20 < s <= 30 for s in clock.sleeps)
