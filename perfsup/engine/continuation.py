"""Give a run that ended more budget, so that the next engine goes on with it.

An engine started on a run folder resumes the newest run (`runs.py`); a run
that ended because its budget ran out would end again at once. Continuing
raises the experiment and token budgets to what the run has used plus what
the person grants, in `overrides.json`: the file `Controls` reads at start and
where live budget changes are kept, so the raise survives restarts too.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import col, select

from perfsup.config import Budgets, Config
from perfsup.engine.controls import OVERRIDES_NAME, Controls
from perfsup.engine.rundir import RunPaths
from perfsup.store import Node, Run, Store
from perfsup.store.models import EventKind
from perfsup.store.tree import record_event


class ContinueRefused(Exception):
    """The run cannot be continued; the message says why."""


@dataclass(frozen=True)
class RunSpent:
    """What the newest run has used, and its budgets now."""

    run_id: int
    status: str
    stop_reason: str | None
    experiments: int
    tokens: int
    budgets: Budgets


def run_spent(store: Store, paths: RunPaths, config: Config) -> RunSpent:
    """The newest run's use against its budgets (with the person's overrides)."""
    with store.session() as s:
        run = s.exec(select(Run).order_by(col(Run.id).desc())).first()
        if run is None:
            raise ContinueRefused(f"{paths.store} holds no run yet (start one with `perfsup run`)")
        experiments = s.exec(
            select(func.count()).where(Node.run_id == run.id, col(Node.parent_id).is_not(None))
        ).one()
        budgets = Controls(config.budgets, paths.root / OVERRIDES_NAME).budgets
        return RunSpent(
            run.id, run.status, run.stop_reason, int(experiments), run.tokens_used, budgets
        )


def continue_run(
    store: Store, paths: RunPaths, config: Config, more_experiments: int, more_tokens: int
) -> str:
    """Raise the newest run's budgets by what is granted; say what the run may now spend.

    Call it while no engine runs on the folder (the engine reads the overrides
    at start; a running engine takes `perfsup ctl budgets` instead)."""
    if more_experiments < 1 or more_tokens < 1:
        raise ContinueRefused(
            f"more experiments {more_experiments}, more tokens {more_tokens}: "
            "expected whole numbers of at least 1"
        )
    spent = run_spent(store, paths, config)
    changed = {
        "max_experiments": spent.experiments + more_experiments,
        "max_tokens": spent.tokens + more_tokens,
    }
    controls = Controls(config.budgets, paths.root / OVERRIDES_NAME)
    controls.set_budgets(
        Budgets.model_validate({**controls.budgets.model_dump(), **changed}), changed
    )
    message = (
        f"run {spent.run_id} continues: up to {changed['max_experiments']} experiments "
        f"({more_experiments} more) and {changed['max_tokens']:,} tokens ({more_tokens:,} more)"
    )
    with store.session() as s:
        record_event(s, EventKind.RUN_RESUMED, message, run_id=spent.run_id, actor="human")
    return message
