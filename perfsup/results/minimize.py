"""`perfsup minimize NODE`: the smallest set of changes on the path to a node
that keeps its win.

Ablation, one change at a time, in path order: the current set (at first
every change from the run's baseline to NODE) is measured against the same
set without change c, with the engine's own decision rule (sequential pairs,
A/A threshold, re-verification). If the full set is not significantly
better, c contributes nothing and is dropped for good; otherwise it stays. A
change that later changes depend on (its removal does not apply), or without
which the build or checks fail, stays too.

The result is recorded as a new node under the run's root: one commit with
only the needed changes, measured against the baseline like any experiment;
`minimize.json` (an artifact of that node) names what was dropped, for the
report. The ablation samples are stored under the new node, each under its
own phase (`ablate-<id>`, `ablate-<id>-verify`).
"""

from __future__ import annotations

import hashlib
import json
import platform
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import col, select

from perfsup.config import Config
from perfsup.engine.branch_prefix import choose_branch_prefix
from perfsup.engine.clock import SystemClock
from perfsup.engine.factory import run_command_env
from perfsup.engine.measure import Measurer
from perfsup.engine.outcomes import NodeOutcomes
from perfsup.engine.rundir import RunPaths
from perfsup.store import Artifact, Calibration, Node, NodeStatus, Run, Store
from perfsup.store.models import EventKind, utcnow
from perfsup.store.transitions import move, new_node
from perfsup.store.tree import child_id, lineage, next_ordinal, record_event
from perfsup.workspace.executor import LocalExecutor
from perfsup.workspace.git import GitWorkspace, NothingToCommit
from perfsup.workspace.logcap import MIB
from perfsup.workspace.pairs import CANDIDATE, PARENT
from perfsup.workspace.sandbox import SandboxExecutor

__all__ = ["MinimizeError", "MinimizeResult", "minimize"]


class MinimizeError(Exception):
    """A one-line reason why the node cannot be minimized."""


class AlreadyMinimal(MinimizeError):
    """The path is one change: there is nothing to drop (not a failure)."""


@dataclass(frozen=True)
class Step:
    node: Node
    needed: bool
    why: str


@dataclass(frozen=True)
class MinimizeResult:
    node_id: str  # the node that records the result
    kept: list[str]
    dropped: list[str]
    status: str
    summary: str


class _Ablation:
    """The worktrees, builds and measurements of one minimize."""

    def __init__(
        self,
        config: Config,
        store: Store,
        paths: RunPaths,
        run: Run,
        seed: int | None,
        report: Callable[[str], None],
    ) -> None:
        self.config = config
        self.store = store
        self.paths = paths
        self.run = run
        self.report = report
        self.git = GitWorkspace(Path(run.repo_path), paths.worktrees)
        choose_branch_prefix(store, self.git, paths)  # the run's own branch names
        self.env = run_command_env(paths, config, Path(run.repo_path))
        self.executor = SandboxExecutor(
            LocalExecutor(config.run.max_log_mb * MIB), config.sandbox, [paths.root], report
        )
        self.measure = Measurer(
            config=config,
            store=store,
            executor=self.executor,
            env=self.env,
            rng=random.Random(seed),
            clock=SystemClock(),
            report=report,
            host=platform.node(),
        )
        self.worktrees: list[Path] = []

    def close(self) -> None:
        for path in self.worktrees:
            self.git.remove_worktree(path)

    def thresholds_from_store(self) -> bool:
        """Reuse the run's newest A/A thresholds; False when it has none."""
        with self.store.session() as s:
            rows = s.exec(
                select(Calibration)
                .where(Calibration.run_id == self.run.id)
                .order_by(col(Calibration.id))
            ).all()
        found = {c.metric: c.threshold for c in rows}
        if not found:
            return False
        self.measure.thresholds.update(found)
        return True

    def build(
        self, name: str, start: str, picks: list[Node], log_node: str
    ) -> tuple[Path | None, str]:
        """A built, checked worktree of `start` plus `picks`; (None, why) when it fails."""
        path = self.git.add_worktree(name, start)
        self.worktrees.append(path)
        for node in picks:
            assert node.commit_sha is not None
            if not self.git.cherry_pick_into(path, node.commit_sha):
                return None, f"the other changes do not apply without it ({node.id} conflicts)"
        for step, spec in (("build", self.config.build), ("check", self.config.check)):
            if spec is None:
                continue
            log = self.paths.log(log_node, f"{name}-{step}")
            log.parent.mkdir(parents=True, exist_ok=True)
            result = self.executor.run(spec.run, path, log, spec.timeout_s, env=self.env)
            if result.exit_code != 0 or result.timed_out:
                return None, f"without it the {step} fails (see {log})"
        return path, ""


def minimize(
    *,
    config: Config,
    store: Store,
    paths: RunPaths,
    node_id: str,
    seed: int | None = None,
    report: Callable[[str], None] = print,
) -> MinimizeResult:
    """Ablate the path to `node_id`; record and return the minimal set as a new node."""
    with store.session() as s:
        target = s.get(Node, node_id)
        if target is None:
            raise MinimizeError(f"no node {node_id} in {store.path}")
        if target.status != NodeStatus.KEPT or target.parent_id is None or not target.commit_sha:
            raise MinimizeError(f"node {node_id} is {target.status}; minimize needs a kept change")
        run = s.get(Run, target.run_id)
        assert run is not None
        chain = lineage(s, target)
        root, path = chain[0], chain[1:]
        if len(path) < 2:
            raise AlreadyMinimal(
                f"node {node_id} is a single change on its run's baseline: nothing to minimize"
            )
        ordinal = next_ordinal(s, root.id)
        new = new_node(
            id=child_id(root.id, ordinal),
            run_id=run.id,
            parent_id=root.id,
            ordinal=ordinal,
            depth=1,
            description=f"minimized {node_id}",
        )
        s.add(new)
        s.flush()
        move(s, new, NodeStatus.BENCHMARKING, expected=NodeStatus.QUEUED, started_at=utcnow())
        record_event(
            s,
            EventKind.MINIMIZE,
            f"minimizing {node_id} into {new.id}",
            run_id=run.id,
            node_id=new.id,
            actor="human",
        )
    assert root.commit_sha is not None
    ablation = _Ablation(config, store, paths, run, seed, report)
    try:
        return _run(ablation, run, root, target, path, new)
    except BaseException:
        if NodeStatus(new.status).in_flight:  # a failure already recorded stays recorded
            _outcomes(store).end(new, NodeStatus.INTERRUPTED, "minimize did not finish")
        raise
    finally:
        ablation.close()


def _run(
    ab: _Ablation, run: Run, root: Node, target: Node, path: list[Node], new: Node
) -> MinimizeResult:
    report = ab.report
    assert root.commit_sha is not None and target.commit_sha is not None
    base_dir, why = ab.build(f"{new.id}-base", root.commit_sha, [], new.id)
    if base_dir is None:
        _outcomes(ab.store).end(new, NodeStatus.CRASHED, f"the baseline does not build: {why}")
        raise MinimizeError(f"the baseline does not build or pass its checks: {why}")
    if not ab.thresholds_from_store() and ab.config.decision.calibration_pairs:
        ab.measure.calibrate(run.id, root, base_dir, ab.paths.log(new.id, "calibrate"))
    current = list(path)
    current_dir, why = ab.build(f"{new.id}-all", target.commit_sha, [], new.id)
    if current_dir is None:
        _outcomes(ab.store).end(new, NodeStatus.CRASHED, f"{target.id} no longer builds: {why}")
        raise MinimizeError(f"{target.id} no longer builds or passes its checks: {why}")
    steps: list[Step] = []
    log = ab.paths.log(new.id, "bench")
    for change in path:
        rest = [n for n in current if n.id != change.id]
        report(f"{new.id:<10} without {change.id} ({change.description})")
        trial_dir, why = ab.build(f"{new.id}-without-{change.id}", root.commit_sha, rest, new.id)
        if trial_dir is None:
            steps.append(Step(change, True, why))
            report(f"{new.id:<10} {change.id} stays: {why}")
            continue
        phase = f"ablate-{change.id}"
        judgement = ab.measure.judge(
            run.id,
            new,
            {PARENT: trial_dir, CANDIDATE: current_dir},
            log,
            phases=(phase, f"{phase}-verify"),
        )
        if judgement.failure is not None:
            steps.append(Step(change, True, f"could not be measured: {judgement.failure[1]}"))
        elif judgement.keep:
            steps.append(Step(change, True, f"it contributes: {judgement.reason}"))
        else:
            steps.append(Step(change, False, f"no significant effect: {judgement.reason}"))
            current, current_dir = rest, trial_dir
        report(
            f"{new.id:<10} {change.id} {'stays' if steps[-1].needed else 'goes'}: {steps[-1].why}"
        )
    kept = [n.id for n in current]
    dropped = [st.node.id for st in steps if not st.needed]
    record: dict[str, object] = {
        "from": target.id,
        "node": new.id,
        "kept": [{"id": n.id, "description": n.description} for n in current],
        "dropped": [
            {"id": st.node.id, "description": st.node.description, "why": st.why}
            for st in steps
            if not st.needed
        ],
        "steps": [{"id": st.node.id, "needed": st.needed, "why": st.why} for st in steps],
    }
    _save_record(ab, new, record)
    if not dropped:
        reason = f"every change on the path to {target.id} is needed; nothing to remove"
        _outcomes(ab.store).end(new, NodeStatus.REJECTED, reason, analysis=_analysis(steps))
        return MinimizeResult(new.id, kept, [], NodeStatus.REJECTED, f"{new.id}: {reason}")
    return _record_minimal(
        ab, run, root, target, new, current, current_dir, base_dir, steps, kept, dropped
    )


def _record_minimal(
    ab: _Ablation,
    run: Run,
    root: Node,
    target: Node,
    new: Node,
    current: list[Node],
    current_dir: Path,
    base_dir: Path,
    steps: list[Step],
    kept: list[str],
    dropped: list[str],
) -> MinimizeResult:
    assert root.commit_sha is not None
    description = f"minimized {target.id}: " + "; ".join(n.description for n in current)
    message = (
        f"perfsup {new.id}: {description}\n\nThe changes of {', '.join(kept)}; "
        f"{', '.join(dropped)} dropped (no significant effect).\n\nperfsup-node: {new.id}\n"
    )
    if not current:  # nothing is needed: the win was noise
        reason = f"none of the changes on the path to {target.id} has a significant effect"
        _outcomes(ab.store).end(new, NodeStatus.DISCARDED, reason, analysis=_analysis(steps))
        return MinimizeResult(new.id, [], dropped, NodeStatus.DISCARDED, f"{new.id}: {reason}")
    # Committed from a fresh, unbuilt worktree: a built one holds build outputs.
    fresh = ab.git.add_worktree(f"{new.id}-commit", root.commit_sha)
    ab.worktrees.append(fresh)
    for node in current:
        assert node.commit_sha is not None
        if not ab.git.cherry_pick_into(fresh, node.commit_sha):
            raise MinimizeError(f"the changes {', '.join(kept)} no longer apply together")
    try:
        sha = ab.git.commit_all(fresh, ab.git.node_branch(new.id), message)
    except NothingToCommit:  # the kept changes cancel out
        sha = root.commit_sha
    diff = ab.git.diff(root.commit_sha, sha)
    _outcomes(ab.store).set(
        new,
        description=description[:300],
        commit_sha=sha,
        branch=ab.git.node_branch(new.id),
        diff=diff,
        diff_hash=hashlib.sha256(diff.encode()).hexdigest(),
        model=target.model,
        rationale=_analysis(steps),
    )
    ab.report(f"{new.id:<10} measuring {', '.join(kept)} against the baseline {root.id}")
    judgement = ab.measure.judge(
        run.id, new, {PARENT: base_dir, CANDIDATE: current_dir}, ab.paths.log(new.id, "bench")
    )
    status = str(_outcomes(ab.store).decide(new, judgement))
    summary = (
        f"{new.id}: {target.id} minimized to {', '.join(kept)} "
        f"(dropped {', '.join(dropped)}); {status}: {judgement.reason or judgement.failure}"
    )
    return MinimizeResult(new.id, kept, dropped, status, summary)


def _analysis(steps: list[Step]) -> str:
    return "\n".join(
        f"{st.node.id} {'needed' if st.needed else 'dropped'}: {st.why}" for st in steps
    )


def _save_record(ab: _Ablation, node: Node, record: dict[str, object]) -> None:
    path = ab.paths.logs / node.id / "minimize.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1), encoding="utf-8")
    with ab.store.session() as s:
        s.add(Artifact(node_id=node.id, kind="minimize", step="minimize", path=str(path)))


def _outcomes(store: Store) -> NodeOutcomes:
    """The engine's writer of node outcomes, acting for a person: the one place
    minimize records through the engine (its decisions are the loop's)."""
    return NodeOutcomes(store, actor="human")
