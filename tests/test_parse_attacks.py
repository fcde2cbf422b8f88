"""Hostile model answers through the real engine (issue 13, point 4).

Each answer once hung or killed the engine: a whitespace-only line of a few
thousand spaces (super-linear regular expressions: minutes to hours), `1+`
nested 3,000 deep or a long chain of unary minus (`ast.parse` raised
RecursionError / MemoryError, which escaped: exit 1, the node left
`proposing`, and the same crash on every restart), a NUL byte, an answer or
a line over the limits. Now each ends its node `malformed` with a reason,
and the engine goes on to the next answer, which is applied and measured.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlmodel import select

from perfsup.engine.rundir import RunPaths
from perfsup.store import Node, NodeStatus, Run, RunStatus, open_store
from tests.helpers import bench_sh_config, build_engine, make_repo

APP = "def work(n):\n    total = 0\n    for i in range(n):\n        total += i\n    return total\n"
SEARCH = "src/app.py\n<<<<<<< SEARCH\n    total = 0\n=======\n"
REPLACE = ">>>>>>> REPLACE\n"


def answer(description: str, replacement: str) -> str:
    return f"DESCRIPTION: {description}\n{SEARCH}    total = 0\n{replacement}{REPLACE}"


# (name, answer, a fragment the node's reason must hold)
ATTACKS = [
    (
        "whitespace-only lines of 3,000 spaces",
        answer("pad", (" " * 3000 + "\n") * 5 + "    # ...   " + " " * 3000 + "x\n"),
        None,  # parses and applies in linear time; the checks then decide
    ),
    (
        "a DESCRIPTION line ending in 3,000 spaces and a letter",
        "DESCRIPTION: a" + " " * 3000 + "b\nno block here\n",
        "no change in it",
    ),
    (
        "`1+` nested 3,000 deep",
        answer("deep", "    x = (1\n" + "    +1\n" * 3000 + "    )\n"),
        "nested too deeply",
    ),
    (
        "unary minus 20,000 deep",
        answer("deeper", "    x = (\n" + "-\n" * 20000 + "1)\n"),
        "nested too deeply",
    ),
    (
        "2,000 tokens on one line",
        answer("wide", "    x = " + "1+" * 2000 + "1\n"),
        "max_answer_line_chars",
    ),
    (
        "a NUL byte",
        answer("nul", "    x = 1\x00\n"),
        "no longer parses",
    ),
    (
        "an answer over the size limit",
        answer("huge", "    # filler\n" * 6000),
        "max_answer_kb",
    ),
]
VALID = answer("start from zero, said twice", "    total = 0 * 1\n")


def test_hostile_answers_end_malformed_and_the_next_answer_is_processed(tmp_path: Path) -> None:
    make_repo(tmp_path / "repo", {"src/app.py": APP, "bench.sh": "echo METRIC t=1\n"})
    texts = [text for _, text, _ in ATTACKS] + [VALID]
    # JSON strings are valid TOML basic strings: the NUL byte and long lines survive
    (tmp_path / "answers.toml").write_text(
        "".join(f"[[answer]]\ntext = {json.dumps(text)}\n\n" for text in texts)
    )
    n = len(texts)
    (tmp_path / "perfsup.toml").write_text(
        bench_sh_config(
            model="max_retries = 0",
            tables=f"[budgets]\nmax_experiments = {n}\nmax_children = {n}\n"
            f"max_failures_in_a_row = {n}\npause_after_failures = {n + 1}\n",
        )
    )
    engine = build_engine(tmp_path / "perfsup.toml", tmp_path / "run")
    store = engine.store
    outcome = engine.run()
    with store.session() as s:
        nodes = {x.ordinal: x for x in s.exec(select(Node).where(Node.parent_id == "1")).all()}
    store.close()
    assert outcome.status == RunStatus.FINISHED, outcome.reason
    assert outcome.reason.startswith("experiment budget reached")
    assert len(nodes) == n
    for ordinal, (name, _, fragment) in enumerate(ATTACKS, start=1):
        node = nodes[ordinal]
        if fragment is None:
            assert NodeStatus(node.status).finished, name
            continue
        assert node.status == NodeStatus.MALFORMED, (name, node.status, node.reason)
        assert fragment in (node.reason or ""), (name, node.reason)
    last = nodes[n]
    assert last.status in (NodeStatus.KEPT, NodeStatus.DISCARDED), (last.status, last.reason)


def test_sigterm_is_answered_while_the_engine_works_through_hostile_answers(
    tmp_path: Path,
) -> None:
    # The old parser spent about 20 minutes on this line (cubic backtracking), all
    # of them without running the signal handler.
    bomb = answer("pad", " " * 3000 + "\n")
    make_repo(tmp_path / "repo", {"src/app.py": APP, "bench.sh": "echo METRIC t=1\n"})
    (tmp_path / "answers.toml").write_text(
        "".join(f"[[answer]]\ntext = {json.dumps(bomb)}\n\n" for _ in range(20))
    )
    config = tmp_path / "perfsup.toml"
    config.write_text(bench_sh_config(model="max_retries = 0"))
    run_dir = tmp_path / "run"
    argv = ["run", "--headless", "-c", str(config), "--run-dir", str(run_dir)]
    engine = subprocess.Popen(
        [sys.executable, "-m", "perfsup", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait("the first answer", lambda: _status(run_dir, "1.1") not in (None, "queued"))
        engine.send_signal(signal.SIGTERM)
        wait("the engine to end", lambda: engine.poll() is not None)
        stderr = engine.stderr.read() if engine.stderr else ""
        assert engine.returncode == 0, stderr[-2000:]
        assert "Traceback" not in stderr
        store = open_store(RunPaths(run_dir).store, migrate=False)
        with store.session() as s:
            run = s.get(Run, 1)
            assert run is not None and run.status == RunStatus.STOPPED
            assert run.stop_reason == "stopped by SIGTERM"
        store.close()
    finally:
        if engine.poll() is None:
            engine.kill()
            engine.wait()


def _status(run_dir: Path, node_id: str) -> str | None:
    path = RunPaths(run_dir).store
    if not path.exists():
        return None
    store = open_store(path, migrate=False)
    try:
        with store.session() as s:
            node = s.get(Node, node_id)
            return node.status if node else None
    except Exception:  # the engine is still creating the store
        return None
    finally:
        store.close()


def wait(what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
