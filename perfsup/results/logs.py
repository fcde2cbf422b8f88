"""Logs other tools read: autoresearch JSON lines and the seed metrics CSV.

JSON lines (`perfsup log --jsonl`), the autoresearch convention: a config line

    {"type": "config", "name": <goal>, "metricName": "time_ms", "metricUnit": "ms",
     "bestDirection": "lower"}

then one line per experiment, the baseline first:

    {"commit": "abc1234", "metric": 12.3, "metrics": {...},
     "status": "keep" | "discard" | "crash" | "checks_failed",
     "description": "...", "timestamp": <ms since the epoch>,
     "run": 1, "iteration": 3, ...}

The first six are autoresearch's columns (karpathy's results.tsv: commit,
the metric, status keep/discard/crash, description; the JSON-lines form adds
`metrics`, `timestamp` and `checks_failed`). `run` is perfsup's run number (the
`perfsup log RUN` argument), never a counter; `iteration` numbers the
experiments as the metrics CSV does (0 = the baseline). perfsup's own keys
(`node`, `perfsup_status`, `reason`, `effect`, `ci_low`, `ci_high`) follow;
readers of the convention ignore them. A metric value is the median of the
counted samples of the pass that decided the node (the re-verification if
there was one); an experiment that measured nothing has `metric` null and
empty `metrics`: a 0 read as the best result when lower is better (issue 16;
decision 0200).

The metrics CSV (`perfsup log --csv`) has the rows the engine appends to
`metrics.csv` while it runs (engine/metrics_csv.py), written from the store.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from sqlmodel import Session

from perfsup.config import Config, ConfigError, MetricSpec
from perfsup.config.load import parse_config
from perfsup.engine.metrics_csv import (
    Experiment,
    baseline_values,
    csv_header,
    csv_row,
    node_values,
    run_nodes_in_order,
)
from perfsup.store import NodeStatus, Run, Store

__all__ = [
    "Experiment",
    "csv_text",
    "experiments",
    "jsonl_text",
    "run_metrics",
]


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
    root, tried = run_nodes_in_order(session, run_id)
    out = []
    if root is not None:
        out.append(Experiment(0, root, baseline_values(session, root)))
    for number, node in enumerate(tried, start=1):
        if not NodeStatus(node.status).finished:
            continue
        out.append(Experiment(number, node, node_values(session, node)))
    return out


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
    for row in rows:
        node = row.node
        # a failed experiment has no value, even if some samples were taken before it failed
        values = row.values if row.status in ("keep", "discard") else {}
        value = values.get(primary.name) if primary else None
        lines.append(
            {
                "commit": (node.commit_sha or "")[:7],
                "metric": value,
                "metrics": values,
                "status": row.status,
                "description": node.description or "",
                "timestamp": row.timestamp_ms,
                "run": run_id,
                "iteration": row.iteration,
                "node": node.id,
                "perfsup_status": node.status,
                "reason": node.reason,
                "effect": node.effect,
                "ci_low": node.ci_low,
                "ci_high": node.ci_high,
            }
        )
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)


# ------------------------------------------------------------- metrics CSV
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
