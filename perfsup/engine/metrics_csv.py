"""The metrics CSV the engine appends to while it runs, and the rows it is made of.

Seed convention (`metrics.csv` next to the store): the first column is the
iteration (0 = the baseline, then the experiment's number in the run), then
one column per metric in priority order, its direction in the name
(`time_ms (lower is better)`). Only experiments that were measured have a
row. The engine appends a row after every decision, so `tail -f` follows the
night; `perfsup log --csv` (results/logs.py) writes the same rows from the store.
"""

from __future__ import annotations

import csv
import statistics
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

from sqlalchemy import func
from sqlmodel import Session, col, select

from perfsup.config import MetricSpec
from perfsup.store import Node, NodeStatus, Sample
from perfsup.store.tree import id_key

__all__ = [
    "CSV_NAME",
    "Experiment",
    "MetricsCsvLog",
    "baseline_values",
    "csv_header",
    "csv_row",
    "node_values",
    "run_nodes_in_order",
]

# A node status as the autoresearch convention names it (anything else: "crash").
STATUS = {
    NodeStatus.KEPT: "keep",
    NodeStatus.DISCARDED: "discard",
    NodeStatus.PRUNED: "discard",
    NodeStatus.CHECKS_FAILED: "checks_failed",
}
CSV_NAME = "metrics.csv"


@dataclass(frozen=True)
class Experiment:
    """One line of the logs: the baseline (iteration 0) or one experiment."""

    iteration: int
    node: Node
    values: dict[str, float]  # metric -> median of the deciding pass (may be empty)

    @property
    def status(self) -> str:
        if self.node.parent_id is None:
            return "keep"
        return STATUS.get(NodeStatus(self.node.status), "crash")

    @property
    def timestamp_ms(self) -> int:
        moment = self.node.finished_at or self.node.created_at
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)


def run_nodes_in_order(session: Session, run_id: int) -> tuple[Node | None, list[Node]]:
    """(the run's root, its other nodes in the order they were made)."""
    nodes = session.exec(select(Node).where(Node.run_id == run_id)).all()
    root = next((n for n in nodes if n.parent_id is None), None)
    tried = sorted(
        (n for n in nodes if n.parent_id is not None),
        key=lambda n: (n.created_at, id_key(n.id)),
    )
    return root, tried


def _iteration(session: Session, node: Node) -> int:
    """`node`'s number in `run_nodes_in_order` (1 for the first experiment), counted by
    the store rather than by loading every node: it is asked after every experiment."""
    tried = (Node.run_id == node.run_id, col(Node.parent_id).is_not(None))
    earlier = session.exec(
        select(func.count()).select_from(Node).where(*tried, Node.created_at < node.created_at)
    ).one()
    same = session.exec(select(Node.id).where(*tried, Node.created_at == node.created_at)).all()
    return int(earlier) + sum(1 for other in same if id_key(other) <= id_key(node.id))


def node_values(session: Session, node: Node) -> dict[str, float]:
    """Per metric, the median of the candidate's counted samples in the deciding pass."""
    rows = session.exec(
        select(Sample).where(
            Sample.node_id == node.id, Sample.side == "candidate", col(Sample.warmup).is_(False)
        )
    ).all()
    phases = {r.phase for r in rows}
    phase = "verify" if "verify" in phases else "decide"
    return _medians(r for r in rows if r.phase == phase)


def baseline_values(session: Session, root: Node) -> dict[str, float]:
    """The baseline's medians: its A/A calibration samples, else the parent side of its
    first measured child."""
    rows = session.exec(
        select(Sample).where(
            Sample.node_id == root.id, Sample.phase == "calibrate", col(Sample.warmup).is_(False)
        )
    ).all()
    if rows:
        return _medians(rows)
    children = session.exec(select(Node.id).where(Node.parent_id == root.id)).all()
    for child in sorted(children, key=id_key):
        rows = session.exec(
            select(Sample).where(
                Sample.node_id == child,
                Sample.side == "parent",
                Sample.phase == "decide",
                col(Sample.warmup).is_(False),
            )
        ).all()
        if rows:
            return _medians(rows)
    return {}


def _medians(rows: object) -> dict[str, float]:
    by_metric: dict[str, list[float]] = {}
    for r in rows:  # type: ignore[attr-defined]
        by_metric.setdefault(r.metric, []).append(float(r.value))
    return {m: float(statistics.median(v)) for m, v in by_metric.items()}


def csv_header(metrics: list[MetricSpec]) -> list[str]:
    return ["iteration", *(f"{m.name} ({m.direction} is better)" for m in metrics)]


def csv_row(row: Experiment, metrics: list[MetricSpec]) -> list[str] | None:
    if not metrics or any(m.name not in row.values for m in metrics):
        return None
    return [str(row.iteration), *(f"{row.values[m.name]:.6g}" for m in metrics)]


class MetricsCsvLog:
    """The CSV the engine keeps up to date while it runs (appends; never rewrites)."""

    def __init__(self, root: Path, metrics: list[MetricSpec]) -> None:
        self.metrics = list(metrics)
        self.root = root

    def path(self, run_id: int) -> Path:
        # run 1 writes metrics.csv; a promoted run (other criteria) its own file
        return self.root / (CSV_NAME if run_id == 1 else f"metrics-run{run_id}.csv")

    def record(self, session: Session, run_id: int, node_id: str) -> None:
        """Append the row of a measured experiment (with the header and baseline first).

        Reads this node's samples only (the baseline's too for a new file): it
        runs after every experiment, so it must not grow with the tree."""
        node = session.get(Node, node_id)
        if node is None or node.run_id != run_id or node.parent_id is None:
            return
        if not NodeStatus(node.status).finished:
            return
        number = _iteration(session, node)
        cells = csv_row(Experiment(number, node, node_values(session, node)), self.metrics)
        if cells is None:
            return
        path = self.path(run_id)
        new = not path.exists() or path.stat().st_size == 0
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            if new:
                writer.writerow(csv_header(self.metrics))
                root = session.exec(
                    select(Node).where(Node.run_id == run_id, col(Node.parent_id).is_(None))
                ).first()
                if root is not None:
                    baseline = Experiment(0, root, baseline_values(session, root))
                    base = csv_row(baseline, self.metrics)
                    if base is not None:
                        writer.writerow(base)
            writer.writerow(cells)
