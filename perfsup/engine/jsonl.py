"""Logs other tools read: autoresearch JSON lines and the seed metrics CSV.

JSON lines (`perfsup log --jsonl`), the autoresearch convention: a config line

    {"type": "config", "name": <goal>, "metricName": "time_ms", "metricUnit": "ms",
     "bestDirection": "lower"}

then one line per experiment, the baseline first:

    {"run": 1, "commit": "abc1234", "metric": 12.3, "metrics": {...},
     "status": "keep" | "discard" | "crash" | "checks_failed",
     "description": "...", "timestamp": <ms since the epoch>, ...}

plus perfsup's own keys (`node`, `perfsup_status`, `effect`, `ci_low`, `ci_high`)
that readers of the convention ignore. A metric value is the median of the
counted samples of the pass that decided the node (the re-verification if
there was one); an experiment that measured nothing has `metric` 0 and empty
`metrics`, as autoresearch logs a crash.

The metrics CSV (seed convention, `metrics.csv` next to the store): the first
column is the iteration (0 = the baseline, then the experiment's number in
the run), then one column per metric in priority order, its direction in the
name (`time_ms (lower is better)`). Only experiments that were measured have
a row. The engine appends a row after every decision, so `tail -f` follows
the night; `perfsup log --csv` writes the same rows from the store.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

from sqlmodel import Session, col, select

from perfsup.config import Config, ConfigError, MetricSpec
from perfsup.config.load import parse_config
from perfsup.store import Node, NodeStatus, Run, Sample, Store
from perfsup.store.tree import id_key

__all__ = [
    "Experiment",
    "MetricsCsvLog",
    "csv_text",
    "experiments",
    "jsonl_text",
    "run_metrics",
]

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


def run_metrics(run: Run, fallback: Config | None) -> list[MetricSpec]:
    """The metrics the run was judged by (its stored config), else the current config's."""
    if run.config_toml:
        try:
            return list(parse_config(run.config_toml, Path(run.repo_path) / "perfsup.toml").metrics)
        except ConfigError:
            pass  # moved or edited since
    if fallback is not None:
        return list(fallback.metrics)
    return []


def experiments(session: Session, run_id: int) -> list[Experiment]:
    """The baseline and every finished experiment of a run, in the order they were made."""
    root, tried = _run_nodes(session, run_id)
    out = []
    if root is not None:
        out.append(Experiment(0, root, baseline_values(session, root)))
    for number, node in enumerate(tried, start=1):
        if not NodeStatus(node.status).finished:
            continue
        out.append(Experiment(number, node, node_values(session, node)))
    return out


def _run_nodes(session: Session, run_id: int) -> tuple[Node | None, list[Node]]:
    """(the run's root, its other nodes in the order they were made)."""
    nodes = session.exec(select(Node).where(Node.run_id == run_id)).all()
    root = next((n for n in nodes if n.parent_id is None), None)
    tried = sorted(
        (n for n in nodes if n.parent_id is not None),
        key=lambda n: (n.created_at, id_key(n.id)),
    )
    return root, tried


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


# -------------------------------------------------------------- JSON lines
def jsonl_text(store: Store, run_id: int, fallback: Config | None = None) -> str:
    with store.session() as s:
        run = s.get(Run, run_id)
        assert run is not None
        metrics = run_metrics(run, fallback)
        rows = experiments(s, run_id)
    primary = metrics[0] if metrics else None
    lines: list[dict[str, object]] = [
        {
            "type": "config",
            "name": run.goal,
            "metricName": primary.name if primary else "",
            "metricUnit": primary.unit if primary else "",
            "bestDirection": primary.direction if primary else "lower",
        }
    ]
    for number, row in enumerate(rows, start=1):
        node = row.node
        value = row.values.get(primary.name) if primary else None
        lines.append(
            {
                "run": number,
                "commit": (node.commit_sha or "")[:7],
                "metric": value if value is not None else 0,
                "metrics": row.values,
                "status": row.status,
                "description": node.description or "",
                "timestamp": row.timestamp_ms,
                "node": node.id,
                "perfsup_status": node.status,
                "effect": node.effect,
                "ci_low": node.ci_low,
                "ci_high": node.ci_high,
            }
        )
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)


# ------------------------------------------------------------- metrics CSV
def csv_header(metrics: list[MetricSpec]) -> list[str]:
    return ["iteration", *(f"{m.name} ({m.direction} is better)" for m in metrics)]


def csv_row(row: Experiment, metrics: list[MetricSpec]) -> list[str] | None:
    if not metrics or any(m.name not in row.values for m in metrics):
        return None
    return [str(row.iteration), *(f"{row.values[m.name]:.6g}" for m in metrics)]


def csv_text(store: Store, run_id: int, fallback: Config | None = None) -> str:
    with store.session() as s:
        run = s.get(Run, run_id)
        assert run is not None
        metrics = run_metrics(run, fallback)
        rows = experiments(s, run_id)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(csv_header(metrics))
    for row in rows:
        cells = csv_row(row, metrics)
        if cells is not None:
            writer.writerow(cells)
    return out.getvalue()


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
        root, tried = _run_nodes(session, run_id)
        number = next((i for i, n in enumerate(tried, start=1) if n.id == node_id), None)
        if number is None or not NodeStatus(tried[number - 1].status).finished:
            return
        node = tried[number - 1]
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
                if root is not None:
                    baseline = Experiment(0, root, baseline_values(session, root))
                    base = csv_row(baseline, self.metrics)
                    if base is not None:
                        writer.writerow(base)
            writer.writerow(cells)
