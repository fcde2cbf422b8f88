"""How many more model calls the night can make, from what the calls so far cost.

Each budget bounds the calls left: the time to the deadline (or the planned
night) at the mean seconds a call took, the experiments left at the mean calls
an experiment made, the tokens left at the mean tokens a call used, and the
rate limit over the time left. The smallest bound is the estimate, named with
the budget that sets it. Before the first call nothing says how long a call
takes: the estimate is unknown and only the experiments left bound it.

`estimate_night_calls` is pure (the tests give it figures); `calls_so_far`
reads the figures of a run from the store. The engine's start line, `perfsup
status` and the TUI's overview show `NightCalls.text()` (docs/decisions/0280).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from perfsup.store.models import ModelCall, Node

__all__ = ["CallsSoFar", "NightBudget", "NightCalls", "calls_so_far", "estimate_night_calls"]


@dataclass(frozen=True)
class CallsSoFar:
    """The model calls of a run until now."""

    calls: int = 0
    seconds: float = 0.0  # their total time (reading the prompt and writing the answer)
    tokens: int = 0  # prompt + answer tokens
    experiments: int = 0  # experiments created (the baseline left out)
    experiments_called: int = 0  # experiments that called the model at least once
    elapsed_s: float = 0.0  # the run's time so far: calls, builds, checks and benchmarks


@dataclass(frozen=True)
class NightBudget:
    """What is left of the night's budgets."""

    experiments_left: int
    seconds_left: float | None = None  # to the deadline or the planned night; None: no limit
    time_label: str = ""  # "until 07:00", "in the planned 8 h night"
    tokens_left: int | None = None
    calls_per_hour: int | None = None


@dataclass(frozen=True)
class NightCalls:
    """The estimate: `calls` more model calls (None: unknown yet), set by `bound`."""

    calls: int | None
    bound: str  # why that many, in words

    def text(self) -> str:
        """`model calls left: about 240 (7 h 40 min until 07:00 at 115 s a call)`."""
        if self.calls is None:
            return f"model calls left: unknown until the first call ({self.bound})"
        return f"model calls left: about {self.calls} ({self.bound})"

    def short(self) -> str:
        """`model calls left: ~240`, for the TUI's one-line overview."""
        if self.calls is None:
            return "model calls left: unknown until the first"
        return f"model calls left: ~{self.calls}"


def estimate_night_calls(so_far: CallsSoFar, budget: NightBudget) -> NightCalls:
    """The smallest of the bounds the budgets set on the calls left (module docstring)."""
    left = max(budget.experiments_left, 0)
    experiments = f"{left} experiment{'s' if left != 1 else ''} left"
    if so_far.calls == 0:
        return NightCalls(None, f"at most {experiments}")
    bounds: list[tuple[float, str]] = []
    per_experiment = so_far.calls / max(so_far.experiments_called, 1)
    bounds.append((left * per_experiment, f"{experiments} at {per_experiment:.1f} calls each"))
    per_call_s = so_far.seconds / so_far.calls
    # The night also builds, checks and benchmarks between calls: its pace so far
    # (the run's time per call) bounds the calls left when it is slower than the model.
    pace_s = so_far.elapsed_s / so_far.calls
    if budget.seconds_left is not None:
        seconds = max(budget.seconds_left, 0.0)
        when = f"{_duration(seconds)} {budget.time_label}".rstrip()
        if pace_s > per_call_s:
            bounds.append((seconds / pace_s, f"{when} at the pace so far, {pace_s:.0f} s a call"))
        elif per_call_s > 0:
            bounds.append((seconds / per_call_s, f"{when} at {per_call_s:.0f} s a call"))
        if budget.calls_per_hour is not None:
            rate = budget.calls_per_hour
            bounds.append((seconds / 3600 * rate, f"{when} at the limit of {rate} calls an hour"))
    if budget.tokens_left is not None and so_far.tokens > 0:
        per_call_tokens = so_far.tokens / so_far.calls
        tokens = max(budget.tokens_left, 0)
        bounds.append(
            (tokens / per_call_tokens, f"{tokens:,} tokens left at {per_call_tokens:,.0f} a call")
        )
    calls, bound = min(bounds, key=lambda b: b[0])
    return NightCalls(int(calls), bound)


def calls_so_far(session: Session, run_id: int, experiments: int | None = None) -> CallsSoFar:
    """The figures of a run's model calls (two aggregate queries; one when the caller
    counted the run's `experiments` already)."""
    calls, seconds, tokens, called = session.exec(
        select(
            func.count(col(ModelCall.id)),
            func.coalesce(func.sum(ModelCall.total_s), 0.0),
            func.coalesce(func.sum(ModelCall.prompt_tokens + ModelCall.completion_tokens), 0),
            func.count(func.distinct(ModelCall.node_id)),
        ).where(ModelCall.run_id == run_id)
    ).one()
    if experiments is None:
        experiments = session.exec(
            select(func.count())
            .select_from(Node)
            .where(Node.run_id == run_id, col(Node.parent_id).is_not(None))
        ).one()
    return CallsSoFar(
        calls=int(calls),
        seconds=float(seconds or 0.0),
        tokens=int(tokens),
        experiments=int(experiments),
        experiments_called=int(called),
    )


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"
