"""Budgets and pacing: when the run ends by itself, and how fast it may call the model.

Checked before every experiment (`stop_reason`): the experiment budget, the
token budget over all calls of the run, and the deadline. Checked before
every model call (`before_call`): the token budget again (a retry must not
run past it), then the rate limit (calls per sliding hour) and the minimum
interval between calls, which wait rather than fail.

By default the model never generates while a benchmark runs: a proposal is
written before the benchmark starts and the next one only after it ended.
With `executor.pipeline` the next proposal is written during the benchmark
(pipeline.py), through the same checks. A backend that can unload its model is asked to before each
benchmark when `model.unload_before_bench` is set.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlmodel import col, select

from perfsup.agent.backend import ModelUnavailable
from perfsup.config import Budgets
from perfsup.engine.clock import Clock
from perfsup.store import ModelCall, Node, Run, Store


class BudgetReached(ModelUnavailable):
    """A budget ends the run; the message says which and how much was used."""


class Pacer:
    """The run's budgets, read from the store so a restarted engine keeps counting."""

    def __init__(
        self,
        budgets: Callable[[], Budgets],
        store: Store,
        clock: Clock,
        report: Callable[[str], None],
    ) -> None:
        self._budgets = budgets  # read each time: a person may change them mid-run
        self.store = store
        self.clock = clock
        self.report = report
        self.budget_spent = False  # the run ends because a budget (not the deadline) ran out
        self._deadline_for: Budgets | None = None
        self._deadline: datetime | None = None

    @property
    def budgets(self) -> Budgets:
        return self._budgets()

    @property
    def deadline(self) -> datetime | None:
        budgets = self.budgets
        if budgets is not self._deadline_for:  # new budgets: the deadline may have moved
            self._deadline_for = budgets
            self._deadline = deadline_after(budgets, self.clock.now())
        return self._deadline

    def stop_reason(self, run_id: int) -> str | None:
        """Why the run must end now, or None."""
        self.budget_spent = False
        with self.store.session() as s:
            run = s.get(Run, run_id)
            assert run is not None
            experiments = len(
                s.exec(
                    select(Node.id).where(Node.run_id == run_id, col(Node.parent_id).is_not(None))
                ).all()
            )
            tokens = run.tokens_used
        if experiments >= self.budgets.max_experiments:
            self.budget_spent = True
            return f"experiment budget reached ({experiments} of {self.budgets.max_experiments})"
        return self._token_reason(tokens) or self._deadline_reason()

    def before_call(self, run_id: int) -> None:
        """Wait for the rate limit; `BudgetReached` when the tokens or the deadline are spent."""
        self.budget_spent = False
        limit = self.budgets.calls_per_hour
        while True:
            with self.store.session() as s:
                run = s.get(Run, run_id)
                tokens = run.tokens_used if run is not None else 0
                now = self.clock.now().astimezone(UTC)  # the clock's time, for tests too
                since = now - timedelta(hours=1)
                recent = s.exec(
                    select(ModelCall.created_at)
                    .where(ModelCall.run_id == run_id, col(ModelCall.created_at) >= since)
                    .order_by(col(ModelCall.created_at))
                ).all()
            reason = self._token_reason(tokens) or self._deadline_reason()
            if reason:
                raise BudgetReached(reason)
            wait, why = 0.0, ""
            if len(recent) >= limit:
                wait = (_aware(recent[0]) + timedelta(hours=1) - now).total_seconds()
                why = f"rate limit: {limit} calls per hour reached"
            if recent and self.budgets.min_call_interval_s > 0:
                gap = self.budgets.min_call_interval_s
                left = (_aware(recent[-1]) + timedelta(seconds=gap) - now).total_seconds()
                if left > wait:
                    wait, why = left, f"rate limit: at least {gap:g} s between calls"
            if wait <= 0:
                return
            self.report(f"{why}, waiting {wait:.0f} s")
            self.clock.sleep(max(wait, 0.05))

    def _token_reason(self, tokens: int) -> str | None:
        if tokens >= self.budgets.max_tokens:
            self.budget_spent = True
            return f"token budget reached ({tokens} of {self.budgets.max_tokens} tokens used)"
        return None

    def _deadline_reason(self) -> str | None:
        deadline = self.deadline
        if deadline is not None and self.clock.now() >= deadline:
            return f"deadline reached ({deadline:%Y-%m-%d %H:%M})"
        return None


def deadline_after(budgets: Budgets, now: datetime) -> datetime | None:
    """The deadline as a local date-time: a time of day means its next occurrence."""
    deadline = budgets.deadline
    if deadline is None:
        return None
    if isinstance(deadline, datetime):
        if deadline.tzinfo is not None:  # compare in local time, like the clock
            return deadline.astimezone().replace(tzinfo=None)
        return deadline
    candidate = datetime.combine(now.date(), deadline)
    return candidate if candidate > now else candidate + timedelta(days=1)


def _aware(moment: datetime) -> datetime:
    """SQLite hands datetimes back without their zone; ours are stored in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
