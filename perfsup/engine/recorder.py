"""Every store write of the engine's experiments and runs, in one place.

Each write is its own short transaction, committed as it happens, so a person
(or `perfsup status`) sees the tree grow live and a crash loses at most the
step in flight. A node's status only moves through `store.transitions`
(compare-and-set): when a person ended a node first, their status stands.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from perfsup.agent.backend import CallFailed, ModelReply
from perfsup.engine.clock import Clock
from perfsup.engine.measure import Judgement
from perfsup.engine.outcomes import NodeOutcomes, decision_fields
from perfsup.engine.rundir import RunPaths
from perfsup.store import Artifact, ModelCall, Node, NodeStatus, Run, RunStatus, Store
from perfsup.store.models import IN_FLIGHT, EngineState, EventKind, utcnow
from perfsup.store.transitions import move, new_node
from perfsup.store.tree import child_id, next_ordinal, record_event, record_log

UNFINISHED = "the engine stopped while this experiment was in flight"


class Recorder:
    """The engine's writes: nodes, model calls, artifacts, events and run ends."""

    def __init__(
        self, store: Store, paths: RunPaths, clock: Clock, report: Callable[[str], None]
    ) -> None:
        self.store = store
        self.paths = paths
        self.clock = clock
        self.report = report
        self.outcomes = NodeOutcomes(store, report=report)  # every node status and outcome

    # ---------------------------------------------------------------- nodes
    def add_child(self, run_id: int, parent: Node) -> Node:
        """A new queued node under `parent`."""
        with self.store.session() as s:
            ordinal = next_ordinal(s, parent.id)
            node = new_node(
                id=child_id(parent.id, ordinal),
                run_id=run_id,
                parent_id=parent.id,
                ordinal=ordinal,
                depth=parent.depth + 1,
            )
            s.add(node)
        return node

    def update(self, node: Node, **fields: Any) -> None:
        """Write fields of `node` other than its status (see `move`)."""
        self.outcomes.set(node, **fields)

    def move(
        self, node: Node, status: NodeStatus, *, log: tuple[str, Path] | None = None, **fields: Any
    ) -> None:
        """Move `node` on from the status this engine last saw (compare-and-set);
        `log` (step, path) notes where the step now starting writes, in the same write."""
        self.outcomes.move(node, status, log=log, **fields)

    def end(self, node: Node, status: NodeStatus, reason: str) -> bool:
        """End `node` with an event; False when a person ended it first (theirs stands)."""
        ended = self.outcomes.end(node, status, reason)
        if ended:
            self.report(f"{node.id:<10} {status.value.upper()}: {reason}")
        return ended

    def decision(self, node: Node, judgement: Judgement) -> None:
        """The numbers behind a keep or discard (the status follows with `end`)."""
        self.outcomes.set(node, **decision_fields(judgement))

    def artifact(self, node_id: str, step: str, path: Path) -> None:
        with self.store.session() as s:
            record_log(s, node_id, step, str(path))

    def answered(self, node_id: str) -> bool:
        """Whether the model ever answered for `node_id`."""
        with self.store.session() as s:
            return (
                s.exec(select(ModelCall.id).where(ModelCall.node_id == node_id)).first() is not None
            )

    def drop(self, node: Node) -> None:
        """A node the model never answered is not an experiment: remove its row and logs."""
        with self.store.session() as s:
            stored = s.get(Node, node.id)
            if stored is not None and stored.status in (NodeStatus.QUEUED, NodeStatus.PROPOSING):
                for artifact in s.exec(select(Artifact).where(Artifact.node_id == node.id)).all():
                    s.delete(artifact)
                s.delete(stored)
        shutil.rmtree(self.paths.logs / node.id, ignore_errors=True)

    # ---------------------------------------------------------- model calls
    def model_call(self, run_id: int, node: Node, reply: ModelReply, attempt: int) -> None:
        with self.store.session() as s:
            s.add(
                ModelCall(
                    run_id=run_id,
                    node_id=node.id,
                    model=reply.model,
                    attempt=attempt,
                    prompt_tokens=reply.prompt_tokens,
                    completion_tokens=reply.completion_tokens,
                    cached_tokens=reply.cached_tokens,
                    ttft_s=reply.ttft_s,
                    total_s=reply.total_s,
                    prompt_eval_s=reply.prompt_eval_s,
                    answer_limit=reply.answer_limit,
                    truncated=reply.truncated,
                    created_at=self._utc_now(),  # the engine's clock paces the calls
                )
            )
            stored = s.get(Node, node.id)
            run = s.get(Run, run_id)
            assert stored is not None and run is not None
            stored.model = reply.model
            stored.prompt_tokens += reply.prompt_tokens
            stored.completion_tokens += reply.completion_tokens
            run.tokens_used += reply.prompt_tokens + reply.completion_tokens
            for warning in reply.warnings:  # e.g. the server cut the prompt
                record_event(s, EventKind.MODEL_WARNING, warning, run_id=run_id, node_id=node.id)
        for warning in reply.warnings:
            self.report(f"{node.id:<10} model warning: {warning}")

    def unusable_answer(self, node: Node, attempt: int, problem: str) -> None:
        """Why the answer of `node`'s call `attempt` could not be used, on that call's row."""
        with self.store.session() as s:
            call = s.exec(
                select(ModelCall)
                .where(ModelCall.node_id == node.id, ModelCall.attempt == attempt)
                .order_by(col(ModelCall.id).desc())
            ).first()
            if call is not None:
                call.error = problem[:2000]

    def failed_call(
        self, run_id: int, node: Node, model: str, exc: CallFailed, attempt: int
    ) -> None:
        with self.store.session() as s:
            s.add(
                ModelCall(
                    run_id=run_id,
                    node_id=node.id,
                    model=model,
                    attempt=attempt,
                    ok=False,
                    error=str(exc),
                    created_at=self._utc_now(),
                )
            )
            record_event(s, EventKind.MODEL_CALL_FAILED, str(exc), run_id=run_id, node_id=node.id)
        self.report(f"{node.id:<10} model call failed: {exc}")

    def _utc_now(self) -> datetime:
        return self.clock.now().astimezone(UTC)

    # ----------------------------------------------------------------- runs
    def event(
        self, run_id: int | None, kind: EventKind, message: str, node_id: str | None = None
    ) -> None:
        with self.store.session() as s:
            record_event(s, kind, message, run_id=run_id, node_id=node_id)

    def model_waiting(self, run_id: int, why: str) -> None:
        """The run waits for the model: its state, and one event per cause."""
        with self.store.session() as s:
            run = s.get(Run, run_id)
            if run is not None:
                cause = why.split("; next try")[0]
                if run.engine_detail.split("; next try")[0] != cause:
                    record_event(s, EventKind.MODEL_WAITING, why, run_id=run_id)
                run.engine_state = EngineState.WAITING
                run.engine_detail = why

    def model_back(self, run_id: int, detail: str) -> None:
        with self.store.session() as s:
            run = s.get(Run, run_id)
            if run is not None:
                run.engine_state = EngineState.RUNNING
                run.engine_detail = detail
                record_event(s, EventKind.MODEL_BACK, detail, run_id=run_id)

    def newest_run(self) -> Run | None:
        with self.store.session() as s:
            return s.exec(select(Run).order_by(col(Run.id).desc())).first()

    def first_run(self, run: Run) -> None:
        """Run 1 and its queued root, the baseline commit."""
        with self.store.session() as s:
            s.add(run)
            s.flush()
            baseline = run.baseline_commit
            s.add(new_node(id="1", run_id=1, description="baseline", commit_sha=baseline))
            record_event(s, EventKind.RUN_STARTED, f"run 1 started at {baseline[:12]}", run_id=1)

    def resume(self, run_id: int, killed: list[int]) -> None:
        """The run goes on: nodes a dead engine left in flight (or queued) end interrupted."""
        with self.store.session() as s:
            run = s.get(Run, run_id)
            assert run is not None
            run.status = RunStatus.RUNNING
            run.finished_at = None
            if killed:
                pids = ", ".join(map(str, killed))
                message = f"killed processes left running: {pids}"
                record_event(s, EventKind.ORPHANS_KILLED, message, run_id=run_id)
            stale = s.exec(
                select(Node).where(Node.run_id == run_id, col(Node.status).in_(list(IN_FLIGHT)))
            ).all()
            # A queued child was created just before the engine died: it never started.
            unstarted = s.exec(
                select(Node).where(
                    Node.run_id == run_id,
                    Node.status == NodeStatus.QUEUED,
                    col(Node.parent_id).is_not(None),
                )
            ).all()
            for node in [*stale, *unstarted]:
                move(
                    s,
                    node,
                    NodeStatus.INTERRUPTED,
                    expected=node.status,
                    reason=UNFINISHED,
                    finished_at=utcnow(),
                )
                record_event(
                    s, EventKind.NODE_INTERRUPTED, UNFINISHED, run_id=run_id, node_id=node.id
                )
            record_event(s, EventKind.RUN_RESUMED, f"run {run_id} resumed", run_id=run_id)

    def finish(self, run_id: int, status: RunStatus, reason: str, budget: bool) -> None:
        """The run ends; `budget`: an experiment or token budget ended it."""
        with self.store.session() as s:
            run = s.get(Run, run_id)
            assert run is not None
            run.status = status
            run.stop_reason = reason
            run.finished_at = utcnow()
            if status is RunStatus.FINISHED and budget:
                record_event(s, EventKind.BUDGET_REACHED, reason, run_id=run_id)
            record_event(s, EventKind.RUN_FINISHED, reason, run_id=run_id)
