"""What the TUI reads from a run and the commands it sends, without Textual.

The UI calls these small queries from its timers; each opens a short session
on the store (WAL: readers never block the engine) and returns plain
dataclasses, so a widget never holds a database object. The tree is read one
level at a time: a store of 10,000 nodes costs one indexed query per
expanded node.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from perfsup.config import Config
from perfsup.engine.rundir import RunPaths
from perfsup.results.nodecard import read_card
from perfsup.store import (
    Artifact,
    Command,
    Event,
    Node,
    NodeStatus,
    Run,
    Sample,
    Store,
    open_store,
)
from perfsup.store.commands import enqueue_command
from perfsup.store.models import IN_FLIGHT, CommandKind, CommandStatus
from perfsup.store.tree import id_key
from perfsup.tui.rows import (
    DIMMED,
    ENDED,
    FAILED,
    STEPS,
    Chart,
    CommandOutcome,
    EventRow,
    NodeDetail,
    NodeRow,
    StatusInfo,
    TreeFilter,
    effect_label,
)

__all__ = [
    "DIMMED",
    "ENDED",
    "FAILED",
    "STEPS",
    "Chart",
    "CommandOutcome",
    "EventRow",
    "NodeDetail",
    "NodeRow",
    "RunService",
    "StatusInfo",
    "TreeFilter",
    "effect_label",
    "is_store_ready",
]


class RunService:
    """Read a run store and queue commands for its engine."""

    def __init__(self, store: Store, paths: RunPaths, config: Config | None) -> None:
        self.store = store
        self.paths = paths
        self.config = config
        self.metric = config.metrics[0].name if config else None
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._chart: tuple[object, Chart] | None = None

    @classmethod
    def open(
        cls, run_dir: Path, config: Config | None, store_path: Path | None = None
    ) -> RunService:
        paths = RunPaths(Path(run_dir))
        return cls(open_store(store_path or paths.store), paths, config)

    def close(self) -> None:
        self.store.close()

    # ----------------------------------------------------------------- runs
    def run_ids(self) -> list[int]:
        with self.store.session() as s:
            return [int(i) for i in s.exec(select(Run.id).order_by(col(Run.id))).all()]

    def roots(self, run_id: int | None = None) -> list[NodeRow]:
        with self.store.session() as s:
            query = select(Node).where(col(Node.parent_id).is_(None))
            if run_id is not None:
                query = query.where(Node.run_id == run_id)
            return self._rows(s, list(s.exec(query).all()))

    def children(self, parent_id: str, filt: TreeFilter = TreeFilter.ALL) -> list[NodeRow]:
        """The next level under `parent_id`; under a filter, what the filter shows there."""
        with self.store.session() as s:
            if filt is TreeFilter.FAILED:
                parent = s.get(Node, parent_id)
                if parent is None or parent.parent_id is not None:
                    return []
                # Failures are shown as a flat list under their run's root.
                query = select(Node).where(
                    Node.run_id == parent.run_id, col(Node.status).in_([str(f) for f in FAILED])
                )
                return self._rows(s, list(s.exec(query).all()), leaves=True)
            query = select(Node).where(Node.parent_id == parent_id)
            if filt is TreeFilter.KEPT:
                query = query.where(Node.status == NodeStatus.KEPT)
            return self._rows(s, list(s.exec(query).all()), kept_only=filt is TreeFilter.KEPT)

    def _rows(
        self, s: Session, nodes: list[Node], *, leaves: bool = False, kept_only: bool = False
    ) -> list[NodeRow]:
        nodes.sort(key=lambda n: id_key(n.id))
        counts: dict[str, int] = {}
        if nodes and not leaves:
            query = (
                select(Node.parent_id, func.count())
                .where(col(Node.parent_id).in_([n.id for n in nodes]))
                .group_by(col(Node.parent_id))
            )
            if kept_only:
                query = query.where(Node.status == NodeStatus.KEPT)
            counts = {str(p): int(c) for p, c in s.exec(query).all()}
        return [self._row(s, node, 0 if leaves else counts.get(node.id, 0)) for node in nodes]

    def _row(self, s: Session, node: Node, child_count: int) -> NodeRow:
        progress = ""
        if node.status in IN_FLIGHT:
            progress = str(node.status)
            if node.status == NodeStatus.BENCHMARKING and self.config is not None:
                done = self._pairs_done(s, node.id)
                progress += f" {done}/{self.config.bench.pairs} pairs"
        return NodeRow(
            id=node.id,
            run_id=node.run_id,
            parent_id=node.parent_id,
            status=node.status,
            description=node.description,
            effect=node.effect,
            ci_low=node.ci_low,
            ci_high=node.ci_high,
            priority=node.priority,
            child_count=child_count,
            progress=progress,
            reason=node.reason,
        )

    def _pairs_done(self, s: Session, node_id: str) -> int:
        query = select(func.count()).where(
            Sample.node_id == node_id, Sample.side == "candidate", col(Sample.warmup).is_(False)
        )
        if self.metric:
            query = query.where(Sample.metric == self.metric)
        return int(s.exec(query).one())

    def rows(self, node_ids: list[str]) -> dict[str, NodeRow]:
        """Fresh rows for nodes already on screen (the tree's live refresh)."""
        if not node_ids:
            return {}
        with self.store.session() as s:
            # Plain columns, not ORM objects: this runs every second over every node shown.
            columns = [
                col(c) for c in (Node.id, Node.run_id, Node.parent_id, Node.status,
                                 Node.description, Node.effect, Node.ci_low, Node.ci_high,
                                 Node.priority, Node.reason)
            ]  # fmt: skip
            found = s.execute(sa_select(*columns).where(col(Node.id).in_(node_ids))).all()
            counts = {
                str(p): int(c)
                for p, c in s.exec(
                    select(Node.parent_id, func.count())
                    .where(col(Node.parent_id).in_(node_ids))
                    .group_by(col(Node.parent_id))
                ).all()
            }
            rows = {}
            for values in found:
                *fields, reason = values
                row = NodeRow(*fields, child_count=counts.get(values[0], 0), reason=reason)  # type: ignore[misc]
                if row.status in IN_FLIGHT:  # progress needs the samples
                    node = s.get(Node, row.id)
                    assert node is not None
                    row = self._row(s, node, row.child_count)
                rows[row.id] = row
            return rows

    def detail(self, node_id: str) -> NodeDetail | None:
        with self.store.session() as s:
            node = s.get(Node, node_id)
            if node is None:
                return None
            logs = {step: self.paths.log(node_id, step) for step in STEPS if step != "diff"}
            for artifact in s.exec(select(Artifact).where(Artifact.node_id == node_id)).all():
                if artifact.kind == "log":
                    logs[artifact.step] = Path(artifact.path)
            return NodeDetail(
                row=self._row(s, node, 0),
                diff=node.diff,
                reason=node.reason,
                answer_text=node.answer_text,
                analysis=node.analysis,
                commit_sha=node.commit_sha,
                logs=logs,
                card=read_card(s, node, self.config, self.now()),
            )

    # --------------------------------------------------------------- status
    def status(self) -> StatusInfo:
        with self.store.session() as s:
            run = s.exec(select(Run).order_by(col(Run.id).desc())).first()
            if run is None:
                return StatusInfo(
                    None, "starting", "starting", "waiting for the engine to open the run",
                    None, None, None, 0, None, 0, None, 0.0, "", None,
                )  # fmt: skip
            # One pass over the run's nodes for both counts (10,000 nodes: every second).
            experiments, finished = s.exec(
                select(func.count(), func.count(col(Node.finished_at))).where(
                    Node.run_id == run.id, col(Node.parent_id).is_not(None)
                )
            ).one()
            # Two with pipelining: one benchmarks while the next is proposed; furthest first.
            flying = s.exec(
                select(Node).where(Node.run_id == run.id, col(Node.status).in_(list(IN_FLIGHT)))
            ).all()
            stages = list(NodeStatus)
            flying = sorted(flying, key=lambda n: -stages.index(NodeStatus(n.status)))
            current = ", ".join(f"{n.id} {n.status}" for n in flying) or None
            sandbox = s.exec(
                select(Event.message)
                .where(Event.run_id == run.id, col(Event.kind).startswith("sandbox"))
                .order_by(col(Event.id).desc())
            ).first()
            now = _aware(self.now())
            # Over the run's own time, as the overview says it: an ended run's pace
            # does not keep falling while the screen stays open.
            ended = run.status in ENDED and run.finished_at is not None
            end = _aware(run.finished_at) if ended and run.finished_at else now
            elapsed_h = max((end - _aware(run.created_at)).total_seconds() / 3600, 1e-6)
            heartbeat = None
            if run.heartbeat_at is not None:
                heartbeat = (now - _aware(run.heartbeat_at)).total_seconds()
            budgets = self.config.budgets if self.config else None
            per_hour = int(finished) / elapsed_h
            return StatusInfo(
                run_id=run.id,
                run_status=run.status,
                engine_state=run.engine_state,
                engine_detail=run.engine_detail,
                heartbeat_age_s=heartbeat,
                stop_reason=run.stop_reason,
                current=current,
                tokens_used=run.tokens_used,
                max_tokens=budgets.max_tokens if budgets else None,
                experiments=int(experiments),
                max_experiments=budgets.max_experiments if budgets else None,
                per_hour=per_hour,
                ends=self._ends(run, int(experiments), per_hour),
                sandbox=sandbox,
            )

    def _ends(self, run: Run, experiments: int, per_hour: float) -> str:
        """When a budget or the deadline ends the run, whichever comes first."""
        if run.status in ENDED or self.config is None:
            return ""
        budgets = self.config.budgets
        left = budgets.max_experiments - experiments
        parts = []
        if per_hour > 0 and left > 0:
            parts.append(f"budget in ~{_duration(left / per_hour * 3600)}")
        if budgets.deadline is not None:
            parts.append(f"deadline {budgets.deadline:%H:%M}")
        return ", ".join(parts)

    # --------------------------------------------------------------- events
    def events_after(self, after_id: int, limit: int = 200) -> list[EventRow]:
        with self.store.session() as s:
            rows = s.exec(
                select(Event).where(col(Event.id) > after_id).order_by(col(Event.id)).limit(limit)
            ).all()
            return [EventRow(int(e.id or 0), e.kind, e.message, e.node_id) for e in rows]

    def last_event_id(self) -> int:
        with self.store.session() as s:
            return int(s.exec(select(func.max(Event.id))).one() or 0)

    # ---------------------------------------------------------------- chart
    def chart(self, run_id: int | None) -> Chart:
        """The chart's data; recomputed only when samples or kept nodes changed."""
        metric = self.metric
        with self.store.session() as s:
            if run_id is None or metric is None:
                return Chart([], [], None, [], [])
            key = (
                run_id,
                s.exec(select(func.max(Sample.id))).one(),
                s.exec(
                    select(func.count()).where(
                        Node.run_id == run_id, Node.status == NodeStatus.KEPT
                    )
                ).one(),
                s.exec(
                    select(Node.id).where(
                        Node.run_id == run_id, Node.status == NodeStatus.BENCHMARKING
                    )
                ).first(),
            )
            if self._chart is not None and self._chart[0] == key:
                return self._chart[1]
            chart = self._chart_data(s, run_id, metric)
            self._chart = (key, chart)
            return chart

    def _chart_data(self, s: Session, run_id: int, metric: str) -> Chart:
        kept = s.exec(
            select(Node)
            .where(
                Node.run_id == run_id,
                Node.status == NodeStatus.KEPT,
                col(Node.parent_id).is_not(None),
            )
            .order_by(col(Node.finished_at))
        ).all()
        labels, values = [], []
        if kept:
            base = self._values(s, kept[0].id, metric, "parent")
            if base:
                labels.append("base")
                values.append(statistics.median(base))
        for node in kept:
            got = self._values(s, node.id, metric, "candidate")
            if got:
                labels.append(node.id)
                values.append(statistics.median(got))
        running = s.exec(
            select(Node).where(Node.run_id == run_id, Node.status == NodeStatus.BENCHMARKING)
        ).first()
        parent: list[float] = []
        candidate: list[float] = []
        if running is not None:
            parent = self._values(s, running.id, metric, "parent")
            candidate = self._values(s, running.id, metric, "candidate")
        return Chart(labels, values, running.id if running else None, parent, candidate)

    @staticmethod
    def _values(s: Session, node_id: str, metric: str, side: str) -> list[float]:
        rows = s.exec(
            select(Sample.value)
            .where(
                Sample.node_id == node_id,
                Sample.metric == metric,
                Sample.side == side,
                col(Sample.warmup).is_(False),
            )
            .order_by(col(Sample.pair_index))
        ).all()
        return [float(v) for v in rows]

    # ------------------------------------------------------------- commands
    def send(self, kind: CommandKind, args: dict[str, object] | None = None) -> int:
        """Queue a command for the engine; returns its id to follow its outcome."""
        with self.store.session() as s:
            command = enqueue_command(s, kind, args)
            assert command.id is not None
            return command.id

    def outcomes(self, ids: list[int]) -> list[CommandOutcome]:
        """The commands among `ids` the engine has settled."""
        if not ids:
            return []
        with self.store.session() as s:
            rows = s.exec(
                select(Command).where(
                    col(Command.id).in_(ids), Command.status != CommandStatus.PENDING
                )
            ).all()
            return [CommandOutcome(int(c.id or 0), c.kind, c.status, c.result) for c in rows]

    def export_patch(self, node_id: str, dest: Path) -> str:
        """Write the patch series from the run's baseline to `node_id`, as `perfsup export`
        does (each commit message carries the node, its effect and the model); say what
        was written. Raises ValueError for a node without a change, and for one not kept
        or on a path through one (export's own rule; the TUI never forces)."""
        from perfsup.results.export import ExportError, export_node

        direction = self.config.primary_metric.direction if self.config else "lower"
        try:
            done = export_node(self.store, self.paths.worktrees, node_id, direction=direction)
        except ExportError as exc:
            raise ValueError(str(exc)) from None
        assert done.patch is not None
        dest.write_text(done.patch, encoding="utf-8")
        return f"wrote {dest}: {done.commits} change(s) from the baseline to {node_id}"


def is_store_ready(path: Path) -> bool:
    """The engine has created and migrated the store (the TUI never migrates it)."""
    if not path.exists():
        return False
    try:
        store = open_store(path, migrate=False)
        try:
            with store.session() as s:
                s.exec(select(Run.id)).first()
        finally:
            store.close()
    except OperationalError:
        return False
    return True


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{max(minutes, 1)} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"
