"""How many model calls the night still holds (issue 17 point 5): the estimate from
the calls so far, the night's end, and the line `perfsup status` prints."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from perfsup.cli.status import render_run
from perfsup.config import Budgets
from perfsup.engine.night import NIGHT_S, night_end
from perfsup.store import ModelCall, Run, open_store
from perfsup.store.nightcalls import (
    CallsSoFar,
    NightBudget,
    calls_so_far,
    estimate_night_calls,
)
from perfsup.store.transitions import new_node
from tests.helpers import build_engine
from tests.test_engine import CHANGE, THIRD, setup_target

CONFIG = """
[target]
repo = "repo"
goal = "faster"

[bench]
run = "python bench.py"

[[metrics]]
name = "time_ms"
direction = "lower"

[access]
writable = ["src"]

[model]
backend = "scripted"
script = "answers.toml"

[budgets]
max_experiments = 12
"""
START = datetime(2026, 12, 3, 22, 0)  # local time, as the engine's clock gives it

# Ten calls of 120 s over five experiments, 5,000 tokens each.
TEN_CALLS = CallsSoFar(calls=10, seconds=1200.0, tokens=50_000, experiments=5,
                       experiments_called=5)  # fmt: skip


def test_before_the_first_call_the_estimate_is_unknown_and_names_the_experiments_left() -> None:
    night = estimate_night_calls(
        CallsSoFar(experiments=1), NightBudget(experiments_left=49, seconds_left=8 * 3600.0)
    )
    assert night.calls is None
    assert night.text() == (
        "model calls left: unknown until the first call (at most 49 experiments left)"
    )
    assert night.short() == "model calls left: unknown until the first"


def test_the_experiment_budget_bounds_a_night_with_time_to_spare() -> None:
    # 45 experiments left at 2 calls each = 90 calls; 8 h at 120 s a call would hold 240.
    budget = NightBudget(experiments_left=45, seconds_left=8 * 3600.0, time_label="until 07:00")
    night = estimate_night_calls(TEN_CALLS, budget)
    assert night.calls == 90
    assert night.bound == "45 experiments left at 2.0 calls each"
    assert night.text() == "model calls left: about 90 (45 experiments left at 2.0 calls each)"


def test_the_hours_left_bound_a_night_with_experiments_to_spare() -> None:
    # 2 h left at 120 s a call = 60 calls; 495 experiments left would take 990.
    budget = NightBudget(experiments_left=495, seconds_left=2 * 3600.0, time_label="until 07:00")
    night = estimate_night_calls(TEN_CALLS, budget)
    assert night.calls == 60
    assert night.bound == "2 h 00 min until 07:00 at 120 s a call"


def test_the_nights_pace_bounds_the_hours_when_builds_and_benchmarks_take_longer() -> None:
    # The ten calls took 1,200 s of model time, but the run has gone on for 3,000 s:
    # 300 s a call with the builds and benchmarks between them; 2 h hold 24 such calls.
    slow = replace(TEN_CALLS, elapsed_s=3000.0)
    budget = NightBudget(experiments_left=495, seconds_left=2 * 3600.0, time_label="until 07:00")
    night = estimate_night_calls(slow, budget)
    assert night.calls == 24
    assert night.bound == "2 h 00 min until 07:00 at the pace so far, 300 s a call"


def test_the_rate_limit_and_the_tokens_left_bound_it_when_they_are_tighter() -> None:
    hours = NightBudget(experiments_left=495, seconds_left=2 * 3600.0, calls_per_hour=20)
    assert estimate_night_calls(TEN_CALLS, hours).calls == 40
    assert "at the limit of 20 calls an hour" in estimate_night_calls(TEN_CALLS, hours).bound
    tokens = NightBudget(experiments_left=495, seconds_left=2 * 3600.0, tokens_left=100_000)
    night = estimate_night_calls(TEN_CALLS, tokens)
    assert night.calls == 20
    assert night.bound == "100,000 tokens left at 5,000 a call"


def test_a_spent_budget_leaves_no_calls() -> None:
    past = NightBudget(experiments_left=10, seconds_left=-60.0, time_label="until 07:00")
    assert estimate_night_calls(TEN_CALLS, past).calls == 0
    done = NightBudget(experiments_left=0, seconds_left=3600.0)
    assert estimate_night_calls(TEN_CALLS, done).calls == 0


def test_the_night_ends_at_the_deadline_or_after_the_planned_night() -> None:
    seven = Budgets(deadline=time(7, 0))
    assert night_end(seven, START, START + timedelta(hours=1)) == (
        datetime(2026, 12, 4, 7, 0),
        "until 07:00",
    )
    # Resumed the next evening: the deadline is the next 07:00, not the one that passed.
    evening = START + timedelta(days=1)
    assert night_end(seven, START, evening)[0] == datetime(2026, 12, 5, 7, 0)
    end, label = night_end(Budgets(), START, START + timedelta(hours=3))
    assert end == START + timedelta(seconds=NIGHT_S)
    assert label == "of the planned 8 h night"
    assert night_end(Budgets(), START, START + timedelta(hours=9)) == (None, "")


def test_status_of_a_running_run_says_how_many_calls_are_left(tmp_path: Path) -> None:
    store = open_store(tmp_path / "perfsup.db")
    created = datetime(2026, 12, 3, 22, 0, tzinfo=UTC)
    with store.session() as s:
        s.add(Run(id=1, goal="faster", repo_path="repo", baseline_commit="abc",
                  root_node_id="1", created_at=created,
                  config_toml=CONFIG))  # fmt: skip
    with store.session() as s:
        s.add(new_node(id="1", run_id=1, depth=0))
    with store.session() as s:
        for child in ("1.1", "1.2"):
            s.add(new_node(id=child, run_id=1, parent_id="1", depth=1))
    with store.session() as s:
        for node_id, attempt in (("1.1", 0), ("1.1", 1), ("1.2", 0)):
            s.add(ModelCall(run_id=1, node_id=node_id, model="m", attempt=attempt,
                            prompt_tokens=2000, completion_tokens=500, total_s=100.0))  # fmt: skip
    with store.session() as s:
        so_far = calls_so_far(s, 1)
        run = s.get(Run, 1)
        assert run is not None
        text = render_run(s, run, "time_ms", now=created + timedelta(hours=1))
    store.close()
    assert so_far == CallsSoFar(calls=3, seconds=300.0, tokens=7500, experiments=2,
                                experiments_called=2)  # fmt: skip
    # 10 experiments left at 1.5 calls each = 15; 7 h of the planned night at 100 s = 252.
    assert "model calls left: about 15 (10 experiments left at 1.5 calls each)" in text


def test_a_headless_run_says_the_calls_left_at_its_start_and_after_its_first_call(
    tmp_path: Path,
) -> None:
    config = setup_target(tmp_path, "echo 'METRIC t=1'\n", [CHANGE, THIRD],
                          extra="[budgets]\nmax_experiments = 2\n")  # fmt: skip
    said: list[str] = []
    engine = build_engine(config, tmp_path / "run", report=said.append)
    engine.run()
    engine.store.close()
    start = said.index(next(line for line in said if line.startswith("run 1: baseline")))
    assert said[start + 1] == (
        "model calls left: unknown until the first call (at most 2 experiments left)"
    )
    first = next(line for line in said if line.startswith("model calls: the first took"))
    # The scripted model answers at once: the one experiment left bounds the night.
    assert first.endswith("; model calls left: about 1 (1 experiment left at 1.0 calls each)")
