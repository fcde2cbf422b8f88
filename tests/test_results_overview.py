"""The figures behind the TUI's overview and node card, read from real stores
without Textual (so `perfsup status` and others can print them)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from perfsup.results.nodecard import read_card
from perfsup.results.overview import OverviewReader, compound
from perfsup.results.progress import ProgressReader
from perfsup.results.wording import effect_words, interval_words, value_text
from perfsup.store import Node, Run, Sample, open_store
from tests.tui_store import T0, build_run, demo_run


@pytest.mark.parametrize(
    ("effect", "metric", "unit", "words"),
    [
        (0.975, "time_ms", "ms", "97.5% faster"),
        (-0.021, "time_ms", "", "2.1% slower"),  # the name says it is a time
        (0.31, "throughput", "ops/s", "31.0% better"),
        (-0.05, "peak_kb", "", "5.0% worse"),
        (0.0004, "time_ms", "ms", "no change"),
    ],
)
def test_an_effect_is_said_with_its_direction_never_a_bare_sign(
    effect: float, metric: str, unit: str, words: str
) -> None:
    assert effect_words(effect, metric, unit) == words


def test_intervals_and_values_in_words() -> None:
    assert interval_words(0.28, 0.34, "time_ms") == "28.0-34.0% faster"
    assert interval_words(-0.05, 0.07, "time_ms") == "5.0% slower to 7.0% faster"
    assert interval_words(-0.09, -0.01, "time_ms") == "1.0-9.0% slower"
    assert [value_text(v, "ms") for v in (52.14, 1.2994, 0.01234, 1234.5)] == [
        "52.1 ms", "1.30 ms", "0.0123 ms", "1,234 ms",
    ]  # fmt: skip


def test_a_path_compounds_its_gain_and_its_interval() -> None:
    steps = [
        Node(id="1.1", run_id=1, effect=0.5, ci_low=0.4, ci_high=0.6),
        Node(id="1.1.1", run_id=1, effect=0.2, ci_low=0.1, ci_high=0.3),
    ]
    gain, low, high = compound(steps, "time_ms", "lower")
    # lower is better: the times multiply, 0.5 * 0.8 = 0.4 of the baseline
    assert gain == pytest.approx(0.6)
    assert low == pytest.approx(1 - 0.6 * 0.9)
    assert high == pytest.approx(1 - 0.4 * 0.7)


def test_overview_of_the_demos_real_run(tmp_path: Path) -> None:
    paths, config, finished = demo_run(tmp_path)
    store = open_store(paths.store)
    with store.session() as s:
        run = s.get(Run, 1)
        assert run is not None
        lines = OverviewReader(config, now=lambda: finished).read(s, run).lines()
        card = read_card(s, s.get(Node, "1.2.3"), config)  # type: ignore[arg-type]
    store.close()
    assert lines[0].startswith("time_ms 82.7 ms -> 1.30 ms (1.2), 98.1% faster, interval ")
    assert lines[1].startswith("kept 1 · discarded 1 · failed 3 · running 0 · experiments 5 of 5")
    assert "threshold 9.4% RAISED from 2.0% by the noise" in lines[2]
    assert "run finished: experiment budget reached (5 of 5)" in lines[2]
    assert lines[3].startswith("threshold raised: time_ms: keep threshold raised from 2.0% to 9.4%")
    assert card.verdict == "rejected"
    # the whole reason, as the engine stored it
    assert card.reason == "bench.py: refused, the file is protected (protected entry 'bench.py')"


def test_a_running_run_past_its_experiment_budget_says_it_is_finishing(tmp_path: Path) -> None:
    """The last experiment is in but the run still checks its winner: not 'when stopped'."""
    paths, config, finished = demo_run(tmp_path)
    store = open_store(paths.store)
    with store.session() as s:
        run = s.get(Run, 1)
        assert run is not None
        run.status = "running"  # as it is while the winner is re-checked at the end
        lines = OverviewReader(config, now=lambda: finished).read(s, run).lines()
    store.close()
    assert lines[2].endswith("ends: experiment budget reached, finishing")


def test_progress_is_read_incrementally(tmp_path: Path) -> None:
    fx = build_run(tmp_path)
    store = open_store(fx.paths.store)
    reader = ProgressReader(fx.config.metrics[0], "ms")
    with store.session() as s:
        run = s.get(Run, 1)
        assert run is not None
        first = reader.read(s, run)
        assert [p.node_id for p in first.points] == ["1.2"]  # 1.2.2 is still benchmarking
        seen = reader.last_sample
        assert reader.read(s, run) is first  # nothing new: nothing recomputed
        node = s.get(Node, "1.2.2")
        assert node is not None
        node.status, node.finished_at = "kept", T0 + timedelta(minutes=30)
        s.add(Sample(node_id="1.2.2", metric="time_ms", side="candidate", pair_index=3,
                     value=49.0, measured_at=T0))  # fmt: skip
        s.commit()
        second = reader.read(s, run)
    store.close()
    assert reader.last_sample > seen
    assert [p.node_id for p in second.points] == ["1.2", "1.2.2"]
    assert second.best_so_far()[-1] == (0.5, 50.0)  # median of 50, 51, 50, 49
