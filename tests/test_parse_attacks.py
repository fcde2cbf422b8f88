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
from pathlib import Path

from sqlmodel import select

from perfsup.store import Node, NodeStatus, RunStatus
from tests.conftest import bench_sh_config, build_engine, make_repo

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
