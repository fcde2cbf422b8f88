"""What the TUI tells a person at a glance (issue 18, points 1-4), driven by Pilot
on a real store: the run overview, the node card, the tree's columns at every
terminal width, search and jump, and the charts, Bench and Perf tabs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from textual.widgets import Static

from perfsup.store import Calibration, ModelCall, Node, open_store
from perfsup.tui.app import PerfsupApp
from perfsup.tui.chart import PairsChart, ProgressChart
from perfsup.tui.nodecard import PairTable
from perfsup.tui.tree import RunTree
from tests.helpers import pilot_until
from tests.test_tui import make_app, opened, select_node
from tests.tui_store import T0, RunFixture, build_run, decision_json

pytestmark = pytest.mark.anyio
SIZE = (140, 40)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def running(tmp_path: Path) -> RunFixture:
    return build_run(tmp_path, calibrated=True)


def edit_node(fx: RunFixture, node_id: str, **values: object) -> None:
    store = open_store(fx.paths.store)
    try:
        with store.session() as s:
            node = s.get(Node, node_id)
            assert node is not None
            for key, value in values.items():
                setattr(node, key, value)
    finally:
        store.close()


async def overview_shown(pilot, app: PerfsupApp) -> str:  # type: ignore[no-untyped-def]
    await pilot_until(pilot, lambda: app.run_overview.shown is not None, what="the overview")
    return app.run_overview.text


def card_text(app: PerfsupApp) -> str:
    return app.node_panes.query_one("#card").text  # type: ignore[attr-defined,no-any-return]


def painted_row(tree: RunTree, node_id: str) -> str:
    """The tree's line of `node_id` as the screen shows it (guides, label, cut to width)."""
    node = tree.tree_nodes[node_id]
    strip = tree.render_line(node.line - round(tree.scroll_offset.y))
    return strip.text


# ------------------------------------------------------------ 1. overview
async def test_overview_says_baseline_to_best_in_real_units_and_the_run_figures(
    running: RunFixture,
) -> None:
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        text = await overview_shown(pilot, app)
    first, counts, machine = text.splitlines()
    # 1.2's baseline pairs have median 101 ms, its candidate 58.5 ms; effect 42% [39, 45]
    assert first == "time_ms 101 ms -> 58.5 ms (1.2), 42.0% faster, interval 39.0-45.0% faster"
    assert "kept 1 · discarded 1 · failed 1 · running 1 · pruned 1" in counts
    assert "experiments 5 of 40, 4.0/h" in counts  # 4 finished in the first hour
    assert "tokens 5,922 of 100,000" in counts
    assert machine.startswith("noise floor 1.1%, threshold 2.0% · ends: 35 experiments left")
    assert "RAISED" not in machine


async def test_overview_warns_when_the_noise_raised_the_threshold(running: RunFixture) -> None:
    store = open_store(running.paths.store)
    with store.session() as s:
        later = T0 + timedelta(minutes=30)
        s.add(Calibration(run_id=1, node_id="1", metric="time_ms", pairs=10, effect=0.01,
                          ci_low=-0.06, ci_high=0.08, noise_floor=0.094, threshold=0.094,
                          too_noisy=True, action="raise", created_at=later))  # fmt: skip
    store.close()
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        text = await overview_shown(pilot, app)
        styles = {str(span.style) for span in app.run_overview.render().spans}  # type: ignore[union-attr]
    assert "noise floor 9.4%, threshold 9.4% RAISED from 2.0% by the noise" in text
    assert any("yellow" in style for style in styles)  # the warning stands out


async def test_overview_of_a_finished_run_says_why_it_ended(tmp_path: Path) -> None:
    fx = build_run(tmp_path, finished=True, calibrated=True)
    app = make_app(fx)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        text = await overview_shown(pilot, app)
    assert "run finished: experiment budget reached (5 of 5)" in text
    assert "running 0" in text


# ------------------------------------------------------------ 2. node card
async def test_card_gives_the_verdict_in_words_with_direction_and_units(
    running: RunFixture,
) -> None:
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        await select_node(pilot, app, "1.2")
        card = card_text(app)
    assert card.splitlines()[0] == (
        "kept: 42.0% faster: 101 ms -> 58.5 ms, 90% CI 39.0-45.0% faster, 6 pairs, "
        "p = 0.001, threshold 2.0%"
    )
    assert "time_ms (primary): 42.0% faster" in card
    assert "change: Use sets for the membership tests" in card
    assert "model scripted · tokens 1,200 + 180 · took 60 s" in card
    assert "+42" not in card  # a signed effect reads as slower for a time


async def test_card_says_slower_for_a_loss_and_shows_each_metric_role(
    running: RunFixture,
) -> None:
    edit_node(
        running, "1.1", effect=-0.021, ci_low=-0.05, ci_high=0.01,
        decision_json=decision_json([("time_ms", "primary", -0.021, -0.05, 0.01),
                                     ("peak_kb", "guard", 0.004, -0.01, 0.02)]),
    )  # fmt: skip
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        await select_node(pilot, app, "1.1")
        card = card_text(app)
        row = painted_row(app.run_tree, "1.1")
    assert card.startswith("discarded: 2.1% slower")
    assert "5.0% slower to 1.0% faster" in card
    assert "time_ms (primary): 2.1% slower" in card
    assert "peak_kb (guard): 0.4% better" in card
    assert "2.1% slower" in row and "[-5.0, 1.0]" in row


async def test_card_shows_the_failure_reason_in_full(running: RunFixture) -> None:
    reason = (
        "checks failed: python check.py exited 1: AssertionError: summarize('The the') "
        "returned {'the': 1} but the baseline returned {'the': 2} -- normalize must lower-case"
    )
    edit_node(running, "1.2.1", reason=reason)
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        app.run_tree.tree_nodes["1.2"].expand()
        await pilot_until(pilot, lambda: "1.2.1" in app.run_tree.tree_nodes)
        await select_node(pilot, app, "1.2.1")
        card = card_text(app)
    assert card.startswith("checks failed")
    assert f"reason: {reason}" in card


async def test_card_shows_each_model_call_and_the_overview_the_calls_left(
    running: RunFixture,
) -> None:
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:  # before any call: unknown, the card has none
        await opened(pilot, app)
        before = (await overview_shown(pilot, app)).splitlines()[2]
        await select_node(pilot, app, "1.1")
        plain = card_text(app)
    store = open_store(running.paths.store)
    with store.session() as s:
        s.add(ModelCall(
            run_id=1, node_id="1.1", model="scripted", attempt=0, prompt_tokens=3000,
            completion_tokens=1000, prompt_eval_s=40.0, total_s=90.0, answer_limit=1000,
            truncated=True, error="truncated: the answer reached its limit of 1000 tokens",
        ))  # fmt: skip
        s.add(ModelCall(
            run_id=1, node_id="1.1", model="scripted", attempt=1, prompt_tokens=4000,
            completion_tokens=100, prompt_eval_s=5.0, total_s=15.0, answer_limit=3000, ok=False,
            error="the server closed the connection\nmore lines",
        ))  # fmt: skip
        s.add(ModelCall(run_id=1, node_id="1.2", model="scripted", prompt_tokens=1200,
                        completion_tokens=180, prompt_eval_s=20.0, total_s=45.0))  # fmt: skip
    store.close()
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        after = (await overview_shown(pilot, app)).splitlines()[2]
        await select_node(pilot, app, "1.1")
        card = card_text(app).splitlines()
    assert before.endswith(" · model calls left: unknown until the first")
    assert "call 0" not in plain
    assert card[-3].endswith(" · 2 calls: read 45 s + answer 60 s")  # the node's total
    assert card[-2:] == [
        "call 0: 3000+1000 of 1000 tokens, truncated, read 40 s + answer 50 s: "
        "truncated: the answer reached its limit of 1000 tokens",
        "call 1: failed, read 5 s + answer 10 s: the server closed the connection",
    ]
    # The run's pace so far (three calls in its first hour, builds and benchmarks
    # between them) holds 21 calls in the 7 h left of its planned night: fewer than
    # the 29 its 94,078 tokens left would hold at 3,160 a call, or its experiments.
    assert after.endswith(" · model calls left: ~21")


# ------------------------------------------------------------ 3. tree columns
@pytest.mark.parametrize("width", [80, 120, 160, 200])
async def test_tree_rows_never_cut_the_effect_or_interval(tmp_path: Path, width: int) -> None:
    fx = build_run(tmp_path, calibrated=True)
    edit_node(fx, "1.1", effect=-0.35, ci_low=-1.053, ci_high=0.02)  # the widest interval
    app = make_app(fx)
    async with app.run_test(size=(width, 40)) as pilot:
        await opened(pilot, app)
        tree = app.run_tree
        tree.tree_nodes["1.2"].expand()
        await pilot_until(pilot, lambda: "1.2.2" in tree.tree_nodes)
        await pilot_until(pilot, lambda: "bench 3/6" in painted_row(tree, "1.2.2"))
        rows = {n: painted_row(tree, n) for n in ("1.1", "1.2", "1.2.1", "1.2.2")}
        assert tree.scroll_offset.x == 0 and tree.max_scroll_x == 0  # nothing off to the side
    assert rows["1.2"].rstrip().endswith("42.0% faster [39.0, 45.0]")
    assert rows["1.1"].rstrip().endswith("35.0% slower [-105.3, 2.0]")
    assert "checks failed" in rows["1.2.1"]
    assert "bench 3/6 pairs" in rows["1.2.2"]
    description = "Use sets for the membership tests"
    if width >= 160:
        assert description in rows["1.2"]  # the description is whole when there is room
    else:
        assert "…" in rows["1.2"]  # ... and the first to give way


async def test_w_shows_why_each_node_ended_in_the_tree(running: RunFixture) -> None:
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        tree = app.run_tree
        assert "Rewrite in numpy" in painted_row(tree, "1.3")
        await pilot.press("w")
        await pilot_until(pilot, lambda: "why: pruned by a person" in painted_row(tree, "1.3"))
        assert "Use sets" in painted_row(tree, "1.2")  # a kept node keeps its description
        await pilot.press("w")
        await pilot_until(pilot, lambda: "Rewrite in numpy" in painted_row(tree, "1.3"))


async def test_slash_searches_the_tree_and_escape_clears(running: RunFixture) -> None:
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        tree = app.run_tree
        await pilot.press("slash")
        await pilot.press(*"tokenizer")
        await pilot.press("enter")
        await pilot_until(pilot, lambda: set(tree.tree_nodes) == {"1", "1.2.2"},
                          what="only the match under the run")  # fmt: skip
        assert tree.has_focus
        await pilot.press("slash", "escape")
        await pilot_until(pilot, lambda: {"1.1", "1.2", "1.3"} <= set(tree.tree_nodes),
                          what="every node back")  # fmt: skip
        await pilot.press("slash", *"failed", "enter")  # statuses match too
        await pilot_until(pilot, lambda: set(tree.tree_nodes) == {"1", "1.2.1"})


async def test_colon_jumps_to_a_node_in_a_level_not_yet_open(running: RunFixture) -> None:
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        tree = app.run_tree
        assert "1.2.2" not in tree.tree_nodes  # 1.2's children are not loaded yet
        await pilot.press("colon", *"1.2.2", "enter")
        await pilot_until(pilot, lambda: tree.selected_id() == "1.2.2", what="the cursor on 1.2.2")
        await pilot_until(pilot, lambda: card_text(app).startswith("benchmarking: 3 of 6 pairs"))
        await pilot.press("colon", *"1.9.9", "enter")
        await pilot_until(pilot, lambda: any("no node 1.9.9" in n for n in app.notices))
        await pilot.press("colon", *"one", "enter")
        await pilot_until(pilot, lambda: any("'one' is not a node id" in n for n in app.notices))


# ------------------------------------------------------------ 4. charts, Bench, Perf
async def test_progress_chart_plots_best_so_far_over_time(running: RunFixture) -> None:
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        chart = app.query_one(ProgressChart)
        await pilot_until(pilot, lambda: chart._shown is not None, what="the progress chart")
        progress = chart._shown
    assert progress is not None
    assert progress.baseline == 101.0
    assert [(p.node_id, p.kept) for p in progress.points] == [("1.2", True)]
    # the baseline at 0, then the step to 1.2's median when it was kept (3 minutes in)
    assert progress.best_so_far() == [(0.0, 101.0), (0.05, 101.0), (0.05, 58.5)]


async def test_pair_chart_follows_the_running_node_with_estimate_and_threshold(
    running: RunFixture,
) -> None:
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        chart = app.metric_chart
        await pilot_until(pilot, lambda: chart.has_class("-running"), what="the pair chart")
        pairs = app.query_one(PairsChart)
        assert pairs.display
        assert chart.caption == (
            "1.2.2: 14.7% faster so far (3 pairs); a keep needs > 2.0% (red line)"
        )


async def test_bench_tab_has_a_pair_table_and_perf_tab_says_why_it_is_empty(
    running: RunFixture,
) -> None:
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        await select_node(pilot, app, "1.2")
        table = app.node_panes.query_one(PairTable)
        await pilot_until(pilot, lambda: table.row_count == 6, what="6 pairs in the table")
        assert table.get_row_at(0) == ["decide", "1", "100 ms", "58.0 ms", "42.0% faster"]
        why = app.node_panes.query_one("#perf-why", Static)
        assert why.display
        assert "No profile for this node: profiles are off" in str(why.render())
