"""The plain rows the TUI shows: read from the store by `service.py`, never
database objects, so a widget holds nothing that a session could expire."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from perfsup.results.nodecard import NodeCard
from perfsup.store import NodeStatus, RunStatus

FAILED = frozenset(
    {
        NodeStatus.CHECKS_FAILED,
        NodeStatus.BUILD_FAILED,
        NodeStatus.CRASHED,
        NodeStatus.TIMEOUT,
        NodeStatus.MALFORMED,
        NodeStatus.REJECTED,
        NodeStatus.INTERRUPTED,
    }
)
DIMMED = FAILED | {NodeStatus.PRUNED, NodeStatus.CANCELLED, NodeStatus.DISCARDED}
ENDED = frozenset({RunStatus.FINISHED, RunStatus.STOPPED, RunStatus.FAILED})
STEPS = ("diff", "agent", "build", "check", "bench", "perf")


class TreeFilter(StrEnum):
    ALL = "all"
    KEPT = "kept"
    FAILED = "failed"


@dataclass(frozen=True)
class NodeRow:
    """One line of the tree."""

    id: str
    run_id: int
    parent_id: str | None
    status: str
    description: str
    effect: float | None
    ci_low: float | None
    ci_high: float | None
    priority: int
    child_count: int
    progress: str = ""
    reason: str | None = None  # why it ended as it did (the tree shows it on a key)

    @property
    def has_children(self) -> bool:
        return self.child_count > 0


@dataclass(frozen=True)
class NodeDetail:
    row: NodeRow
    diff: str
    reason: str | None
    answer_text: str
    analysis: str | None
    commit_sha: str | None
    logs: dict[str, Path] = field(default_factory=dict)
    card: NodeCard | None = None  # the node in words (results/nodecard.py)


@dataclass(frozen=True)
class StatusInfo:
    """Everything the status line shows."""

    run_id: int | None
    run_status: str
    engine_state: str
    engine_detail: str
    heartbeat_age_s: float | None
    stop_reason: str | None
    current: str | None
    tokens_used: int
    max_tokens: int | None
    experiments: int
    max_experiments: int | None
    per_hour: float
    ends: str
    sandbox: str | None

    @property
    def read_only(self) -> bool:
        return self.run_status in ENDED


@dataclass(frozen=True)
class EventRow:
    id: int
    kind: str
    message: str
    node_id: str | None


@dataclass(frozen=True)
class CommandOutcome:
    id: int
    kind: str
    status: str
    result: str | None


@dataclass(frozen=True)
class Chart:
    """The primary metric: kept nodes across iterations, and the running node's pairs."""

    kept_labels: list[str]
    kept_values: list[float]
    running_id: str | None
    parent_values: list[float]
    candidate_values: list[float]


def effect_label(row: NodeRow, metric: str | None) -> str:
    if row.effect is None:
        return ""
    interval = ""
    if row.ci_low is not None and row.ci_high is not None:
        interval = f" [{row.ci_low * 100:+.1f}, {row.ci_high * 100:+.1f}]"
    return f"{metric or ''} {row.effect * 100:+.1f}%{interval}".strip()
