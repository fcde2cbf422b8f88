"""The night's progress plot: every measured experiment's primary metric over
time and the best kept value so far (the autoresearch progress chart).

Read incrementally: each call reads only the samples stored since the last
one (by sample id) and the status of the nodes not yet finished, so a long
night costs one small query per refresh, not a pass over every node.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from perfsup.config import MetricSpec
from perfsup.store import Node, NodeStatus, Run, Sample

__all__ = ["Point", "Progress", "ProgressReader"]


@dataclass(frozen=True)
class Point:
    node_id: str
    hours: float  # since the run started, when the node finished
    value: float  # median of the candidate's samples in the deciding pass
    kept: bool


@dataclass(frozen=True)
class Progress:
    metric: str
    unit: str
    direction: str
    baseline: float | None
    points: tuple[Point, ...]

    def best_so_far(self) -> list[tuple[float, float]]:
        """(hours, best value) steps: the baseline, then each kept node that beat it."""
        if self.baseline is None:
            return []
        best = self.baseline
        steps = [(0.0, best)]
        for p in sorted(self.points, key=lambda p: p.hours):
            better = p.value < best if self.direction == "lower" else p.value > best
            if p.kept and better:
                steps.append((p.hours, best))  # the flat part before the step
                best = p.value
                steps.append((p.hours, best))
        return steps


class ProgressReader:
    """Keeps the samples read so far of one run's primary metric."""

    def __init__(self, spec: MetricSpec, unit: str) -> None:
        self.spec = spec
        self.unit = unit
        self.run_id: int | None = None
        self.last_sample = 0
        # node id -> phase -> candidate values; "calibrate"/"parent" of the root: the baseline
        self.values: dict[str, dict[str, list[float]]] = {}
        self.baseline: list[float] = []
        self.root_child_parent: dict[str, list[float]] = {}  # the baseline, uncalibrated
        self.done: dict[str, tuple[float, bool]] = {}  # finished node -> (hours, kept)
        self._shown: Progress | None = None

    def read(self, s: Session, run: Run) -> Progress:
        if run.id != self.run_id:
            self.__init__(self.spec, self.unit)  # type: ignore[misc]
            self.run_id = run.id
        changed = self._read_samples(s, run) | self._read_finished(s, run)
        if changed or self._shown is None:
            self._shown = self._progress()
        return self._shown

    def _read_samples(self, s: Session, run: Run) -> bool:
        # The new samples by id first (the primary key: cheap however long the night),
        # then their nodes; a join would walk the run's nodes on every refresh.
        columns = (Sample.id, Sample.node_id, Sample.side, Sample.phase, Sample.value)
        rows = s.execute(
            sa_select(*(col(c) for c in columns))
            .where(
                col(Sample.id) > self.last_sample,
                col(Sample.metric) == self.spec.name,
                col(Sample.warmup).is_(False),
            )
            .order_by(col(Sample.id))
        ).all()
        if not rows:
            return False
        self.last_sample = max(int(r[0] or 0) for r in rows)
        ids = list({r[1] for r in rows})
        nodes = {
            str(i): (int(run_id), parent)
            for i, run_id, parent in s.execute(
                sa_select(col(Node.id), col(Node.run_id), col(Node.parent_id)).where(
                    col(Node.id).in_(ids)
                )
            ).all()
        }
        for _, node_id, side, phase, value in rows:
            run_id, parent_id = nodes.get(node_id, (None, None))
            if run_id != run.id:
                continue
            if parent_id is None:
                if phase == "calibrate":
                    self.baseline.append(value)
            elif side == "parent" and parent_id == run.root_node_id and phase == "decide":
                self.root_child_parent.setdefault(node_id, []).append(value)
            elif side == "candidate":
                self.values.setdefault(node_id, {}).setdefault(phase, []).append(value)
        return True

    def _read_finished(self, s: Session, run: Run) -> bool:
        waiting = [n for n in self.values if n not in self.done]
        if not waiting:
            return False
        rows = s.exec(
            select(Node.id, Node.status, Node.finished_at).where(col(Node.id).in_(waiting))
        ).all()
        changed = False
        for node_id, status, finished in rows:
            if finished is None or not NodeStatus(status).finished:
                continue
            hours = (_aware(finished) - _aware(run.created_at)).total_seconds() / 3600
            self.done[node_id] = (max(hours, 0.0), status == NodeStatus.KEPT)
            changed = True
        return changed

    def _progress(self) -> Progress:
        points = []
        for node_id, (hours, kept) in self.done.items():
            phases = self.values.get(node_id, {})
            deciding = phases.get("verify") or phases.get("decide")
            if deciding:
                points.append(Point(node_id, hours, statistics.median(deciding), kept))
        baseline = statistics.median(self.baseline) if self.baseline else None
        if baseline is None:
            baseline = self._first_parent_side()
        return Progress(
            self.spec.name, self.unit, self.spec.direction, baseline,
            tuple(sorted(points, key=lambda p: p.hours)),
        )  # fmt: skip

    def _first_parent_side(self) -> float | None:
        """Without a calibration: the parent side of the root's first measured child."""
        if not self.root_child_parent:
            return None
        first = min(self.root_child_parent, key=lambda n: tuple(int(p) for p in n.split(".")))
        return statistics.median(self.root_child_parent[first])


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
