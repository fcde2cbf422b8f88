"""The cost of model calls, per call and per node, in the store and in `perfsup status`."""

from __future__ import annotations

from pathlib import Path

from perfsup.cli.status import render_run
from perfsup.store import ModelCall, Run, open_store
from perfsup.store.calls import node_calls, node_costs
from perfsup.store.transitions import new_node


def test_status_shows_what_each_call_and_each_node_cost(tmp_path: Path) -> None:
    store = open_store(tmp_path / "perfsup.db")
    with store.session() as s:
        s.add(
            Run(
                id=1,
                goal="faster",
                config_toml="",
                repo_path="repo",
                baseline_commit="abc",
                root_node_id="1",
            )
        )
    with store.session() as s:
        s.add(new_node(id="1", run_id=1, depth=0))
    with store.session() as s:
        s.add(new_node(id="1.1", run_id=1, parent_id="1", depth=1, prompt_tokens=7000,
                       completion_tokens=1100))  # fmt: skip
    with store.session() as s:
        s.add(ModelCall(
            run_id=1, node_id="1.1", model="llama:g", attempt=0, prompt_tokens=3000,
            completion_tokens=1000, ttft_s=40.0, prompt_eval_s=40.0, total_s=90.0,
            answer_limit=1000, truncated=True,
            error="truncated: the answer reached its limit of 1000 tokens; not closed by ```",
        ))  # fmt: skip
        s.add(ModelCall(
            run_id=1, node_id="1.1", model="llama:g", attempt=1, prompt_tokens=4000,
            completion_tokens=100, ttft_s=5.0, prompt_eval_s=5.0, total_s=15.0, answer_limit=3000,
        ))  # fmt: skip
    with store.session() as s:
        calls = node_calls(s, "1.1")
        cost = node_costs(s, 1)["1.1"]
        run = s.get(Run, 1)
        assert run is not None
        text = render_run(s, run, "time_ms")
    store.close()
    assert [(c.prompt_s, c.answer_s, c.answer_limit, c.truncated) for c in calls] == [
        (40.0, 50.0, 1000, 1),
        (5.0, 10.0, 3000, 0),
    ]
    assert (cost.calls, cost.prompt_tokens, cost.answer_tokens) == (2, 7000, 1100)
    assert (cost.prompt_s, cost.answer_s, cost.truncated) == (45.0, 60.0, 1)
    node_line = next(line for line in text.splitlines() if " 1.1 " in line)
    assert "[2 calls: read 45 s + answer 60 s]  (tokens 7000+1100)" in node_line
    assert (
        "call 0: 3000+1000 of 1000 tokens, truncated, read 40 s + answer 50 s: truncated:" in text
    )
    assert "call 1: 4000+100 of 3000 tokens, read 5 s + answer 10 s" in text
