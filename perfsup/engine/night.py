"""The night a run is planned for, and how many model calls it still holds.

The night ends at the deadline when one is set (its next occurrence after the
run started; once that has passed, after now), else the planned night is
`NIGHT_S` from the run's start (what the preflight plans with); a run that
goes on past it has no time bound left, only its other budgets. The engine's
start line, `perfsup status` and the TUI's overview read the same estimate
(store/nightcalls.py, docs/decisions/0280).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from perfsup.config import Budgets
from perfsup.engine.pacing import deadline_after
from perfsup.store import Run, Store
from perfsup.store.nightcalls import NightBudget, NightCalls, calls_so_far, estimate_night_calls

__all__ = ["NIGHT_S", "night_calls", "night_end", "night_text"]

#: The night a run is planned for when no deadline is configured.
NIGHT_S = 8 * 3600.0


def night_end(budgets: Budgets, started: datetime, now: datetime) -> tuple[datetime | None, str]:
    """When the night ends (local time, no zone) and how to say it; None: no time bounds it.

    `started` and `now` may carry a zone; without one they are local times."""
    started, now = _local(started), _local(now)
    if budgets.deadline is not None:
        deadline = deadline_after(budgets, started)
        if deadline is None or deadline <= now:
            deadline = deadline_after(budgets, now)
        if deadline is not None:
            return deadline, f"until {deadline:%H:%M}"
    planned = started + timedelta(seconds=NIGHT_S)
    if planned > now:
        return planned, f"of the planned {NIGHT_S / 3600:g} h night"
    return None, ""


def night_calls(
    session: Session, run: Run, budgets: Budgets, now: datetime, experiments: int | None = None
) -> NightCalls:
    """The run's estimated model calls left (`now` local, or with its zone; `experiments`
    when the caller counted them already)."""
    assert run.id is not None
    so_far = calls_so_far(session, run.id, experiments)
    started = run.created_at if run.created_at.tzinfo else run.created_at.replace(tzinfo=UTC)
    end, label = night_end(budgets, started, now)
    elapsed = (_local(now) - _local(started)).total_seconds()
    so_far = replace(so_far, elapsed_s=max(elapsed, 0.0))
    budget = NightBudget(
        experiments_left=budgets.max_experiments - so_far.experiments,
        seconds_left=(end - _local(now)).total_seconds() if end is not None else None,
        time_label=label,
        tokens_left=budgets.max_tokens - run.tokens_used,
        calls_per_hour=budgets.calls_per_hour,
    )
    return estimate_night_calls(so_far, budget)


def _local(moment: datetime) -> datetime:
    """A local time without its zone (the engine's clock's form)."""
    return moment.astimezone().replace(tzinfo=None) if moment.tzinfo is not None else moment


def night_text(store: Store, run_id: int, budgets: Budgets, now: datetime) -> str:
    """`model calls left: about 240 (...)` for the engine's report, or "" without the run."""
    with store.session() as s:
        run = s.get(Run, run_id)
        return night_calls(s, run, budgets, now).text() if run is not None else ""
