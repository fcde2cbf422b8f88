"""What the model calls cost, per call and per node (for `perfsup status` and the TUI).

A call's prompt-reading time is `prompt_eval_s` where the backend measured
it (else the time to the first token); its answer time is the rest of the
call. A node's cost is the sum over its calls.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from perfsup.store.models import ModelCall


@dataclass(frozen=True)
class CallCost:
    """The tokens and seconds of one call, or of all the calls of a node."""

    calls: int
    failed: int
    truncated: int
    prompt_tokens: int
    answer_tokens: int
    prompt_s: float
    answer_s: float
    answer_limit: int | None = None  # one call's limit (None for a sum)
    error: str | None = None  # one call's failure, or why its answer was unusable


def call_cost(call: ModelCall) -> CallCost:
    """One call's cost."""
    reading = call.prompt_eval_s if call.prompt_eval_s is not None else (call.ttft_s or 0.0)
    total = call.total_s or 0.0
    return CallCost(
        calls=1,
        failed=int(not call.ok),
        truncated=int(call.truncated),
        prompt_tokens=call.prompt_tokens,
        answer_tokens=call.completion_tokens,
        prompt_s=reading,
        answer_s=max(total - reading, 0.0),
        answer_limit=call.answer_limit,
        error=call.error,
    )


def node_calls(session: Session, node_id: str) -> list[CallCost]:
    """The cost of each model call of a node, oldest first."""
    rows = session.exec(
        select(ModelCall).where(ModelCall.node_id == node_id).order_by(col(ModelCall.id))
    ).all()
    return [call_cost(row) for row in rows]


def node_costs(session: Session, run_id: int) -> dict[str, CallCost]:
    """Per node of a run (that called the model), the sum of its calls' costs."""
    rows = session.exec(
        select(ModelCall).where(ModelCall.run_id == run_id).order_by(col(ModelCall.id))
    ).all()
    by_node: dict[str, list[CallCost]] = {}
    for row in rows:
        if row.node_id is not None:
            by_node.setdefault(row.node_id, []).append(call_cost(row))
    return {node: total(costs) for node, costs in by_node.items()}


def total(costs: list[CallCost]) -> CallCost:
    """The sum of some calls' costs."""
    return CallCost(
        calls=sum(c.calls for c in costs),
        failed=sum(c.failed for c in costs),
        truncated=sum(c.truncated for c in costs),
        prompt_tokens=sum(c.prompt_tokens for c in costs),
        answer_tokens=sum(c.answer_tokens for c in costs),
        prompt_s=sum(c.prompt_s for c in costs),
        answer_s=sum(c.answer_s for c in costs),
    )
