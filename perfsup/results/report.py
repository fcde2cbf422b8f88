"""The morning report of a run: markdown (with a chart image next to it) or one
self-contained HTML page (the chart inlined as base64).

The report is built once as a list of blocks (headings, paragraphs, lists,
tables, the chart) from the store, then rendered by `report_render`; every
number in it comes from the store, with the same rounding as `perfsup status`.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session, select

from perfsup.config import Config, ConfigError
from perfsup.config.load import parse_config
from perfsup.engine.rundir import RunPaths
from perfsup.metrics.threshold_explain import (
    explain_threshold,
    facts_of,
    hidden_by_raised_threshold,
    run_config,
)
from perfsup.results.export import best_node, compounded_gain
from perfsup.results.logs import Experiment, experiments, run_metrics
from perfsup.results.report_chart import draw_chart
from perfsup.results.report_render import Block, render_html, render_markdown
from perfsup.store import (
    Artifact,
    Calibration,
    Event,
    ModelCall,
    Node,
    NodeStatus,
    Run,
    Store,
)
from perfsup.store.tree import id_key, lineage

__all__ = ["ReportData", "Written", "build_report", "collect", "step_seconds", "write_report"]

_DURATION = re.compile(r"^--- perfsup: (?:exit -?\d+|killed \(.*\)) after ([0-9.]+) s$")
FAILED = ("checks_failed", "build_failed", "crashed", "timeout", "malformed", "rejected")
# log file of a step -> the column of the time split it counts towards
STEP_COLUMN = {"build": "build", "check": "check", "bench": "benchmark", "calibrate": "benchmark"}


@dataclass(frozen=True)
class Written:
    report: Path
    chart: Path | None


@dataclass
class ReportData:
    """Everything the report shows, read from the store (tests compare it to the store)."""

    run: Run
    metric: str
    unit: str
    direction: str
    rows: list[Experiment]
    nodes: list[Node]
    best: Node | None
    best_gain: float | None
    calibrations: list[Calibration]
    max_tokens: int | None
    time_split: dict[str, float] = field(default_factory=dict)
    minimized: list[dict[str, object]] = field(default_factory=list)
    confirmations: list[str] = field(default_factory=list)  # end of night (engine/confirm.py)
    noise_notes: list[str] = field(default_factory=list)  # a noisy threshold explained
    min_effect: float | None = None  # the run's decision.min_effect, when its config reads


def step_seconds(log: Path) -> float:
    """Seconds the commands logged in `log` ran, from the runner's `exit ... after` lines."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return 0.0
    total = 0.0
    for line in text.splitlines():
        match = _DURATION.match(line)
        if match:
            total += float(match.group(1))
    return total


def collect(store: Store, run_id: int, paths: RunPaths, fallback: Config | None) -> ReportData:
    with store.session() as s:
        run = s.get(Run, run_id)
        if run is None:
            raise ValueError(f"no run {run_id} in {store.path}")
        metrics = run_metrics(run, fallback)
        primary = metrics[0] if metrics else None
        nodes = sorted(s.exec(select(Node).where(Node.run_id == run_id)).all(), key=_key)
        rows = experiments(s, run_id)
        best = best_node(s, run_id, metrics) if metrics else None
        best_gain = None
        if best is not None and primary is not None:
            best_gain = compounded_gain(
                [n for n in lineage(s, best) if n.parent_id is not None], None, primary.direction
            )
        calibrations = list(s.exec(select(Calibration).where(Calibration.run_id == run_id)).all())
        model_s = sum(
            c.total_s or 0.0
            for c in s.exec(select(ModelCall).where(ModelCall.run_id == run_id)).all()
        )
        minimized = _minimized(s, [n.id for n in nodes])
        confirmations = [
            e.message
            for e in s.exec(
                select(Event).where(Event.run_id == run_id, Event.kind == "confirmation")
            ).all()
        ]
    config = run_config(run, fallback)
    latest = {c.metric: c for c in sorted(calibrations, key=lambda c: c.id or 0)}
    noise_notes = [explain_threshold(facts_of(c, config)) for c in latest.values() if c.too_noisy]
    split = {"model": model_s, "build": 0.0, "check": 0.0, "benchmark": 0.0}
    for node in nodes:
        for step, column in STEP_COLUMN.items():
            split[column] += step_seconds(paths.log(node.id, step))
    return ReportData(
        run=run,
        metric=primary.name if primary else "",
        unit=primary.unit if primary else "",
        direction=primary.direction if primary else "lower",
        rows=rows,
        nodes=nodes,
        best=best,
        best_gain=best_gain,
        calibrations=calibrations,
        max_tokens=_max_tokens(run, fallback),
        time_split=split,
        minimized=minimized,
        confirmations=confirmations,
        noise_notes=noise_notes,
        min_effect=config.decision.min_effect if config is not None else None,
    )


def _key(node: Node) -> tuple[int, ...]:
    return id_key(node.id)


def _max_tokens(run: Run, fallback: Config | None) -> int | None:
    config: Config | None = fallback
    # the stored config may no longer load here: then the current one says the budget
    with contextlib.suppress(ConfigError):
        config = parse_config(run.config_toml, Path(run.repo_path) / "perfsup.toml")
    return config.budgets.max_tokens if config is not None else None


def _minimized(s: Session, node_ids: list[str]) -> list[dict[str, object]]:
    found = []
    rows = s.exec(select(Artifact).where(Artifact.kind == "minimize")).all()
    for artifact in rows:
        if artifact.node_id not in node_ids:
            continue
        try:
            found.append(json.loads(Path(artifact.path).read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return found


# ------------------------------------------------------------------ blocks
def pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:+.1f}%"


def interval(node: Node) -> str:
    if node.ci_low is None or node.ci_high is None:
        return ""
    return f"[{node.ci_low * 100:+.1f}, {node.ci_high * 100:+.1f}]"


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def node_seconds(node: Node) -> float | None:
    if node.started_at is None or node.finished_at is None:
        return None
    return (_aware(node.finished_at) - _aware(node.started_at)).total_seconds()


def build_report(data: ReportData, chart_ref: str | None) -> list[Block]:
    run = data.run
    tried = [n for n in data.nodes if n.parent_id is not None]
    finished = [n for n in tried if NodeStatus(n.status).finished]
    kept = [n for n in tried if n.status == NodeStatus.KEPT]
    failed = [n for n in tried if n.status in FAILED]
    blocks: list[Block] = [Block("h1", f"perfsup morning report: run {run.id}")]
    started = _aware(run.created_at)
    ended = _aware(run.finished_at) if run.finished_at else None
    tokens = f"{run.tokens_used:,}"
    if data.max_tokens:
        tokens += f" of {data.max_tokens:,} ({run.tokens_used / data.max_tokens:.1%} of the budget)"
    facts = [
        f"Goal: {run.goal}",
        f"Repository: {run.repo_path}, baseline {run.baseline_commit[:12]}"
        + (f" (promoted from node {run.from_node_id})" if run.from_node_id else ""),
        f"Status: {run.status}" + (f" ({run.stop_reason})" if run.stop_reason else ""),
        f"Started {started:%Y-%m-%d %H:%M} UTC"
        + (
            f", ended {ended:%Y-%m-%d %H:%M} UTC ({duration((ended - started).total_seconds())})"
            if ended
            else ", still running"
        ),
        f"Experiments: {len(finished)} finished ({len(kept)} kept, "
        f"{sum(n.status == NodeStatus.DISCARDED for n in tried)} discarded, {len(failed)} failed)",
        f"Tokens used: {tokens}",
        f"Primary metric: {data.metric}"
        + (f" ({data.unit})" if data.unit else "")
        + f", {data.direction} is better",
    ]
    blocks.append(Block("ul", items=facts))

    blocks.append(Block("h2", "Noise"))
    if data.calibrations:
        blocks.append(
            Block(
                "ul",
                items=[
                    f"A/A calibration on {c.node_id}, {c.metric}: noise floor "
                    f"{c.noise_floor:.1%}, threshold {c.threshold:.1%} ({c.pairs} pairs"
                    + (f"; too noisy, {c.action}" if c.too_noisy else "")
                    + ")"
                    for c in data.calibrations
                ],
            )
        )
        for note in data.noise_notes:
            blocks.append(Block("p", note))
        hidden = [n for n in data.nodes if hidden_by_raised_threshold(n, data.min_effect)]
        if hidden:
            blocks.append(Block("p", "Discarded below the raised threshold, not min_effect:"))
            blocks.append(
                Block("ul", items=[f"{n.id} {n.description or ''}: {n.reason}" for n in hidden])
            )
    else:
        blocks.append(Block("p", "No A/A calibration was made in this run."))

    blocks.append(Block("h2", "Winners"))
    if kept:
        rows = [
            [n.id, n.description or "", pct(n.effect), interval(n), n.model or ""] for n in kept
        ]
        blocks.append(
            Block(
                "table",
                header=["Node", "Description", f"Effect ({data.metric})", "Interval (%)", "Model"],
                rows=rows,
            )
        )
        if data.best is not None:
            gain = f": {data.best_gain:.1%} better than the baseline" if data.best_gain else ""
            blocks.append(
                Block(
                    "p",
                    f"Best: {data.best.id} ({data.best.description}){gain}, compounded along "
                    f"its path. Take it with `perfsup export --best --run {run.id}`.",
                )
            )
    else:
        blocks.append(Block("p", "No change was kept."))
    if data.confirmations:
        # best node vs baseline on fresh builds, and on the held-out benchmark if any
        blocks.append(Block("h3", "End-of-night confirmation"))
        blocks.append(Block("ul", items=data.confirmations))
    if chart_ref is not None:
        blocks.append(Block("img", chart_ref, alt=f"{data.metric} per experiment"))

    blocks.append(Block("h2", "Every experiment"))
    calls_tokens = {n.id: n.prompt_tokens + n.completion_tokens for n in data.nodes}
    blocks.append(
        Block(
            "table",
            header=["Node", "Description", "Status", "Effect", "Interval (%)", "Tokens", "Time"],
            rows=[
                [
                    n.id,
                    n.description or "",
                    n.status,
                    pct(n.effect),
                    interval(n),
                    f"{calls_tokens[n.id]:,}",
                    duration(t) if (t := node_seconds(n)) is not None else "",
                ]
                for n in data.nodes
            ],
        )
    )

    blocks.append(Block("h2", "Failures by reason"))
    groups: dict[str, list[Node]] = defaultdict(list)
    for n in failed:
        groups[n.status].append(n)
    if not groups:
        blocks.append(Block("p", "No experiment failed."))
    for status in FAILED:
        if status not in groups:
            continue
        blocks.append(Block("h3", f"{status} ({len(groups[status])})"))
        blocks.append(
            Block(
                "ul",
                items=[f"{n.id} {n.description or ''}: {n.reason or ''}" for n in groups[status]],
            )
        )

    if data.minimized:
        blocks.append(Block("h2", "Kept changes that contribute nothing"))
        items = []
        for m in data.minimized:
            dropped = m.get("dropped")
            names = (
                ", ".join(f"{d['id']} ({d['description']})" for d in dropped if isinstance(d, dict))
                if isinstance(dropped, list)
                else ""
            )
            items.append(
                f"minimize {m['from']} -> {m['node']}: "
                + (f"drops {names}" if names else "every change is needed")
            )
        blocks.append(Block("ul", items=items))

    blocks.append(Block("h2", "Where the time went"))
    split = data.time_split
    total = sum(split.values())
    blocks.append(
        Block(
            "table",
            header=["Model", "Build", "Check", "Benchmark", "Total"],
            rows=[
                [duration(split[k]) for k in ("model", "build", "check", "benchmark")]
                + [duration(total)]
            ],
        )
    )
    return blocks


def write_report(
    store: Store,
    run_id: int,
    output: Path,
    *,
    html: bool = False,
    paths: RunPaths | None = None,
    fallback: Config | None = None,
) -> Written:
    """Write the report of `run_id` to `output` (and its chart next to it, for markdown)."""
    paths = paths or RunPaths(Path(store.path).parent)
    data = collect(store, run_id, paths, fallback)
    points = chart_points(data)
    png = draw_chart(points, data.metric, data.unit, data.direction) if points else None
    output.parent.mkdir(parents=True, exist_ok=True)
    chart: Path | None = None
    if html:
        blocks = build_report(data, "data:image/png;base64," if png else None)
        output.write_text(render_html(blocks, png), encoding="utf-8")
    else:
        ref = None
        if png is not None:
            chart = output.with_suffix(".png")
            chart.write_bytes(png)
            ref = chart.name
        output.write_text(render_markdown(build_report(data, ref)), encoding="utf-8")
    return Written(output, chart)


def chart_points(data: ReportData) -> list[tuple[int, float, str, str]]:
    """(iteration, value, status, node id) of every measured experiment, baseline first."""
    points = []
    for row in data.rows:
        value = row.values.get(data.metric)
        if value is not None:
            points.append((row.iteration, value, row.status, row.node.id))
    return points
