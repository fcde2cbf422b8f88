"""`perfsup status`: the tree of a run as plain text."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session, col, select

from perfsup.engine.night import night_calls
from perfsup.metrics.threshold_explain import (
    explain_threshold,
    facts_of,
    hidden_by_raised_threshold,
    run_config,
)
from perfsup.results.callcost import call_line, calls_total
from perfsup.results.wording import effect_words, signed_interval
from perfsup.store import Calibration, ModelCall, Node, NodeStatus, Run, RunStatus
from perfsup.store.calls import CallCost, node_calls, node_costs
from perfsup.store.tree import latest_events, run_nodes

GLYPHS = {
    NodeStatus.KEPT: "✔",
    NodeStatus.DISCARDED: "·",
    NodeStatus.CHECKS_FAILED: "✘",
    NodeStatus.BUILD_FAILED: "✘",
    NodeStatus.CRASHED: "✘",
    NodeStatus.TIMEOUT: "⧗",
    NodeStatus.MALFORMED: "?",
    NodeStatus.REJECTED: "⊘",
    NodeStatus.PRUNED: "✂",
    NodeStatus.INTERRUPTED: "!",
    NodeStatus.CANCELLED: "-",
}


def effect_text(node: Node, metric: str, unit: str = "") -> str:
    """`time_ms 41.2% faster [39.0, 43.1]`: the word says which way (as the TUI does);
    the interval's numbers are positive in the good direction."""
    if node.effect is None:
        return ""
    interval = signed_interval(node.ci_low, node.ci_high)
    return f"{metric} {effect_words(node.effect, metric, unit)} {interval}".rstrip()


def render_run(
    session: Session, run: Run, metric: str, *, events: int = 0, now: datetime | None = None
) -> str:
    lines = [
        f"run {run.id}  {run.status}"
        + (f": {run.stop_reason}" if run.stop_reason else "")
        + f"  (tokens used {run.tokens_used}{_call_text(session, run.id)})",
        f"goal: {run.goal}",
    ]
    config = run_config(run)
    if config is not None and run.status in (RunStatus.RUNNING, RunStatus.PAUSED):
        lines.append(night_calls(session, run, config.budgets, now or datetime.now(UTC)).text())
    lines.extend(calibration_lines(session, run.id))
    min_effect = config.decision.min_effect if config is not None else None
    units = {m.name: m.unit for m in config.metrics} if config is not None else {}
    unit = units.get(metric, "")
    nodes = run_nodes(session, run.id)
    costs = node_costs(session, run.id)
    id_width = max((len(n.id) + 2 * n.depth for n in nodes), default=4) + 2
    for node in nodes:
        status = NodeStatus(node.status)
        glyph = GLYPHS.get(status, "…")
        label = "  " * node.depth + node.id
        effect = effect_text(node, metric, unit)
        text = f"{glyph} {label:<{id_width}} {status.value:<14} {effect:<34} {node.description}"
        cost = cost_text(costs[node.id]) if node.id in costs else ""
        lines.append(text.rstrip() + cost + token_text(node))
        lines.extend(call_lines(session, node.id, id_width))
        if node.reason and (
            status not in (NodeStatus.KEPT, NodeStatus.DISCARDED)
            or hidden_by_raised_threshold(node, min_effect)
        ):
            lines.append(f"  {'':<{id_width}} {'':<14} reason: {node.reason}")
    if events:
        lines.append("")
        lines.append("recent events:")
        for event in latest_events(session, run.id, events):
            lines.append(f"  {event.created_at:%H:%M:%S} {event.kind:<16} {event.message}")
    return "\n".join(lines)


def token_text(node: Node) -> str:
    """`  (tokens 2323+287)`: prompt + answer tokens of the node's model calls, if any."""
    if not node.prompt_tokens and not node.completion_tokens:
        return ""
    return f"  (tokens {node.prompt_tokens}+{node.completion_tokens})"


def cost_text(cost: CallCost) -> str:
    """`  [2 calls: read 45 s + answer 30 s]`: the time a node's model calls took.

    Its tokens follow in `token_text`.
    """
    return f"  [{calls_total(cost)}]"


def call_lines(session: Session, node_id: str, indent: int) -> list[str]:
    """One line per model call of a node that called more than once or had a problem."""
    calls = node_calls(session, node_id)
    if len(calls) < 2 and not any(c.failed or c.truncated or c.error for c in calls):
        return []
    return [f"  {'':<{indent}} {call_line(attempt, c)}" for attempt, c in enumerate(calls)]


def _call_text(session: Session, run_id: int) -> str:
    """`: 5 calls, 2 failed, prompt read in 61.2 s`: what the model calls of a run cost."""
    calls = session.exec(select(ModelCall).where(ModelCall.run_id == run_id)).all()
    if not calls:
        return ""
    failed = sum(not c.ok for c in calls)
    reading = sum(c.prompt_eval_s or 0.0 for c in calls)
    return (
        f" in {len(calls)} model call{'s' if len(calls) != 1 else ''}"
        + (f", {failed} failed" if failed else "")
        + (f", prompts read in {reading:.1f} s" if reading else "")
    )


def calibration_lines(session: Session, run_id: int) -> list[str]:
    """The latest A/A calibration of each metric and what the noise guard did: when the
    noise was above min_effect, a second line says by how much, why and what would help."""
    rows = session.exec(
        select(Calibration).where(Calibration.run_id == run_id).order_by(col(Calibration.id))
    ).all()
    latest = {row.metric: row for row in rows}
    run = session.get(Run, run_id)
    config = run_config(run) if run is not None else None
    lines = []
    for c in latest.values():
        guard = f"  NOISE GUARD: {c.action}" if c.too_noisy else ""
        lines.append(
            f"calibration of {c.metric} at {c.created_at:%H:%M}: A/A {c.effect * 100:+.1f}% "
            f"[{c.ci_low * 100:+.1f}, {c.ci_high * 100:+.1f}] over {c.pairs} pairs, "
            f"noise floor {c.noise_floor * 100:.1f}%, threshold {c.threshold * 100:.1f}%{guard}"
        )
        if c.too_noisy:
            lines.append("  " + explain_threshold(facts_of(c, config)))
    return lines


def render_store(session: Session, metric: str, run_id: int | None = None, events: int = 0) -> str:
    query = select(Run).order_by(col(Run.id))
    if run_id is not None:
        query = query.where(Run.id == run_id)
    runs = session.exec(query).all()
    if not runs:
        return "no runs in this store yet"
    return "\n\n".join(render_run(session, run, metric, events=events) for run in runs)


def engine_line(run: Run, holder: int | None, sandbox: str = "") -> str:
    """`engine: running (pid 123): 1.4 benchmarking ...`, or why none runs."""
    box = f"; sandbox: {sandbox}" if sandbox else ""
    if holder is None:
        if run.engine_state not in ("stopped", ""):
            died = f"it died while {run.engine_state}; `perfsup run` continues the run"
            return f"engine: not running ({died}){box}"
        return f"engine: not running{box}"
    detail = f": {run.engine_detail}" if run.engine_detail else ""
    return f"engine: {run.engine_state} (pid {holder}){detail}{box}"
