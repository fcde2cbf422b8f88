"""End-of-night confirmation: the best node against the baseline, on fresh builds.

Every kept change was judged against its own parent; a night of them can
still add up to less than it claims (winner's curse, layout luck, a machine
that changed). When a run ends, the best node is benchmarked against the
run's baseline with the same keep rule, on worktrees built afresh for the
purpose, and -- if `bench.held_out` names a workload the model never saw --
on that too, so overfitting to the benchmark is visible. Each result is an
event of kind "confirmation"; the morning report and `perfsup status` show
them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session

from perfsup.config import Config
from perfsup.engine.best import best_node
from perfsup.engine.layout import layout_bench
from perfsup.engine.measure import Judgement, Measurer
from perfsup.engine.rundir import RunPaths
from perfsup.store import EventKind, Node, Store
from perfsup.store.tree import lineage, record_event
from perfsup.workspace.executor import Executor
from perfsup.workspace.git import GitWorkspace
from perfsup.workspace.pairs import CANDIDATE, PARENT

CONFIRMATION = EventKind.CONFIRMATION


@dataclass(frozen=True)
class Confirmation:
    """One end-of-night comparison: which benchmark, and what the rule said."""

    benchmark: str  # "benchmark" or "held-out"
    confirmed: bool
    text: str


def confirm_night(
    *,
    config: Config,
    store: Store,
    measure: Measurer,
    git: GitWorkspace,
    executor: Executor,
    env: dict[str, str],
    paths: RunPaths,
    run_id: int,
    report: Callable[[str], None],
) -> list[Confirmation]:
    """Benchmark the run's best node against its baseline on fresh builds; record it."""
    if not config.decision.confirm_at_end:
        return []
    with store.session() as s:
        best = best_node(s, run_id, list(config.metrics))
        root = _root(s, best) if best is not None else None
    if best is None or root is None or not root.commit_sha or not best.commit_sha:
        return []
    report(f"{best.id:<10} end-of-night confirmation against the baseline {root.id}")
    dirs: dict[str, Path] = {}
    for side, node in ((PARENT, root), (CANDIDATE, best)):
        workdir = git.add_worktree(f"confirm-{side}", node.commit_sha)  # type: ignore[arg-type]
        failure = _build(config, executor, env, workdir, paths.log(best.id, "confirm-build"))
        if failure is not None:
            return [_record(store, run_id, best, "benchmark", False, failure, report)]
        dirs[side] = workdir
    results: list[Confirmation] = []
    try:
        log = paths.log(best.id, "confirm")
        judged = measure.judge(run_id, best, dirs, log, phases=("confirm", "confirm-verify"))
        results.append(_outcome(store, run_id, best, root, "benchmark", judged, report))
        held_out = config.bench.held_out
        if held_out:
            usual = measure.bench
            bench = config.bench.model_copy(update={"run": held_out})
            measure.bench = layout_bench(bench, config.build)
            try:
                log = paths.log(best.id, "held-out")
                judged = measure.judge(
                    run_id, best, dirs, log, phases=("held-out", "held-out-verify")
                )
            finally:
                measure.bench = usual
            results.append(_outcome(store, run_id, best, root, "held-out", judged, report))
    finally:
        for workdir in dirs.values():
            git.remove_worktree(workdir)
    return results


def _root(session: Session, node: Node) -> Node | None:
    chain = lineage(session, node)
    return chain[0] if chain else None


def _build(
    config: Config, executor: Executor, env: dict[str, str], workdir: Path, log: Path
) -> str | None:
    if config.build is None:
        return None
    result = executor.run(config.build.run, workdir, log, config.build.timeout_s, env=env)
    if result.exit_code != 0 or result.timed_out:
        return f"the fresh build failed (status {result.exit_code}; see {log.name})"
    return None


def _outcome(
    store: Store,
    run_id: int,
    best: Node,
    root: Node,
    benchmark: str,
    judged: Judgement,
    report: Callable[[str], None],
) -> Confirmation:
    if judged.failure is not None:
        text = f"could not be measured: {judged.failure[1]}"
        return _record(store, run_id, best, benchmark, False, text, report)
    m = judged.recorded
    effect = f" {m.metric} {m.effect:+.1%} (CI {m.ci_low:+.1%}..{m.ci_high:+.1%})" if m else ""
    verdict = "confirmed" if judged.keep else "not confirmed"
    text = f"{verdict} against the baseline {root.id}:{effect}; {judged.reason}"
    return _record(store, run_id, best, benchmark, judged.keep, text, report)


def _record(
    store: Store,
    run_id: int,
    best: Node,
    benchmark: str,
    confirmed: bool,
    text: str,
    report: Callable[[str], None],
) -> Confirmation:
    label = "held-out benchmark" if benchmark == "held-out" else "benchmark"
    message = f"end-of-night, best node {best.id} on fresh builds, {label}: {text}"
    with store.session() as s:
        record_event(s, CONFIRMATION, message, run_id=run_id, node_id=best.id)
    report(message)
    return Confirmation(benchmark, confirmed, message)
