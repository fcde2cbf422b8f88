"""Pipelining: propose the next experiment while the current one benchmarks.

On with `[executor] pipeline = true`, for a model that does not share the
benchmark's CPU (served on a GPU or another machine) or a remote executor.
Off by default: on one CPU a model generating during a benchmark spoils it.

When the benchmark of the node in flight starts (`start`, just before the
local judge or when the remote judge starts), the next parent is chosen and
its node created here, in the loop's thread; a thread then runs only the
proposal phase (context, model, apply, commit, diff, twin check), which runs
no build, check, bench or profile command. A parent whose worktree is not
built yet, or that still needs its profile, is not proposed on ahead: the
loop proposes on it after the benchmark, as without pipelining. Budgets,
rate limit and deadline are checked as for any proposal (`Pacer`).

The loop measures the node ahead next (`take`, then `measure`); whatever
the thread raised is raised there, so the node ends exactly as if it had
been proposed in the loop; an unexpected error ends it `crashed` and the run
goes on. Abort targets the node that benchmarks; prune and stop also reach
the proposal ahead (`Controls.proposal_aborted`), cutting its model stream.
On stop the loop waits for the proposal at most `STOP_WAIT_S`; a proposal
that is never measured ends `cancelled`, its worktree removed (`drop`).

The model is never called by two threads at once: the thread proposes only
while the loop benchmarks, and the loop waits for it (`settle`) before it
proposes or measures anything else. Each thread writes the store through
sessions of its own; the node ahead's ORM object is touched only by the
thread until `settle` joined it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from perfsup.agent.backend import (
    ChatMessage,
    ModelBackend,
    ModelReply,
    ModelUnavailable,
    ScriptExhausted,
)
from perfsup.agent.unchanged import ForbidUnchanged
from perfsup.config import Config
from perfsup.engine.clock import Clock
from perfsup.engine.controls import Controls, StepAborted
from perfsup.engine.errors import PromptTooLarge, RunFailed
from perfsup.engine.model_wait import PatientBackend
from perfsup.engine.pacing import Pacer
from perfsup.engine.phases import Candidate, Phases
from perfsup.engine.profiling import profile_due
from perfsup.engine.recorder import Recorder
from perfsup.engine.worktrees import BuiltTrees
from perfsup.store import Node, NodeStatus, Store
from perfsup.store.models import EventKind
from perfsup.store.transitions import LostTransition

STOP_WAIT_S = 30.0  # how long a stop waits for a proposal ahead before giving it up
_POLL_S = 0.2

# Raised by the thread and raised again in the loop, which ends the node as usual.
_LOOP_HANDLES = (
    StepAborted, ScriptExhausted, ModelUnavailable, LostTransition, RunFailed, PromptTooLarge
)  # fmt: skip
_LOCAL = threading.local()


def proposing_ahead() -> bool:
    """True in the thread that proposes ahead (its progress lines are not the engine's detail)."""
    return bool(getattr(_LOCAL, "ahead", False))


@dataclass
class Ahead:
    """A node proposed while another benchmarks, and what its proposal left."""

    node: Node
    parent: Node
    parent_dir: Path
    made: Candidate | None = None  # None: ended during its proposal (or not done yet)
    error: Exception | None = None
    given_up: str | None = None  # the loop stopped waiting for it (on stop)


class Pipeline:
    """The proposal made ahead, at most one at a time; see the module docstring."""

    def __init__(
        self,
        *,
        config: Config,
        store: Store,
        clock: Clock,
        controls: Controls,
        pacer: Pacer,
        recorder: Recorder,
        phases: Phases,
        trees: BuiltTrees,
        model: ModelBackend,
        pick_parent: Callable[[int], Node | str],
        report: Callable[[str], None],
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.controls = controls
        self.pacer = pacer
        self.recorder = recorder
        self.phases = phases
        self.trees = trees
        self.model = model
        self.pick_parent = pick_parent
        self.report = report
        self._ahead: Ahead | None = None
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        config = self.config
        # A model unloaded for each benchmark would only be loaded again meanwhile.
        return config.executor.pipeline and not config.model.unload_before_bench

    # ------------------------------------------------------------ loop side
    def start(self, run_id: int, current: Node) -> None:
        """`current` starts benchmarking: propose the next experiment meanwhile, if it may."""
        controls = self.controls
        if not self.enabled or self._ahead is not None:
            return
        if controls.paused or controls.stop_reason is not None or controls.promoted_run:
            return  # the loop's next safe point decides what comes next
        try:
            if self.pacer.stop_reason(run_id):
                return  # the loop says why after this experiment
            parent = self.pick_parent(run_id)
            if isinstance(parent, str):
                return
            parent_dir = self._ready(parent)
            if parent_dir is None:
                return
            node = self.recorder.add_child(run_id, parent)
            self.recorder.event(
                run_id,
                EventKind.PROPOSAL_AHEAD,
                f"{node.id} is proposed on top of {parent.id} while {current.id} benchmarks",
                node_id=node.id,
            )
        except Exception as exc:  # never worth failing the experiment that benchmarks
            self.report(f"{current.id:<10} no proposal ahead: {type(exc).__name__}: {exc}")
            return
        ahead = Ahead(node, parent, parent_dir)
        controls.begin_proposal(node.id)
        self._ahead = ahead
        self._thread = threading.Thread(
            target=self._propose, args=(run_id, ahead), name="perfsup-propose-ahead", daemon=True
        )
        self._thread.start()

    def settle(self) -> None:
        """Wait for the proposal ahead; on stop at most `STOP_WAIT_S`, then give it up."""
        thread, ahead = self._thread, self._ahead
        if thread is None or ahead is None:
            return
        give_up_at: float | None = None
        while thread.is_alive():
            thread.join(_POLL_S)
            stop = self.controls.stop_reason
            if stop is not None and give_up_at is None:
                give_up_at = time.monotonic() + STOP_WAIT_S
            if give_up_at is not None and time.monotonic() >= give_up_at and thread.is_alive():
                ahead.given_up = f"{stop}; its proposal did not end within {STOP_WAIT_S:g} s"
                break
        self._thread = None

    def take(self) -> Ahead | None:
        """The node proposed ahead, to be measured next; None when there is none."""
        self.settle()
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead.given_up is not None:  # a stop gave it up
            self._end_unmeasured(ahead, ahead.given_up)
            return None
        return ahead

    def measure(self, run_id: int, ahead: Ahead) -> None:
        """Build, check and benchmark the node ahead, or end it as its proposal says."""
        if ahead.error is not None:
            if isinstance(ahead.error, _LOOP_HANDLES):
                raise ahead.error
            self.trees.remove_stray(ahead.node.id)
            reason = f"its proposal failed: {type(ahead.error).__name__}: {ahead.error}"
            self.recorder.end(ahead.node, NodeStatus.CRASHED, reason)
            return
        if ahead.made is None:
            return  # ended during its proposal: malformed, rejected, a twin...
        self.controls.raise_if_aborted()  # pruned after its proposal, before its turn
        self.phases.measure_candidate(run_id, ahead.node, ahead.parent, ahead.made)

    def drop(self, reason: str) -> None:
        """The run ends: a node proposed ahead and never measured ends `cancelled`."""
        self.settle()
        ahead, self._ahead = self._ahead, None
        self.controls.drop_proposal()
        if ahead is None:
            return
        if ahead.given_up is not None:
            self._end_unmeasured(ahead, ahead.given_up)
        elif isinstance(ahead.error, StepAborted):
            self.phases.aborted(ahead.node, ahead.error)
        elif isinstance(ahead.error, LostTransition):  # a person ended it first
            self.phases.lost(ahead.node, ahead.error)
        elif isinstance(ahead.error, ModelUnavailable):  # budgets too: keep it if answered
            self.phases.end_unanswered(ahead.node, str(ahead.error))
        elif ahead.error is not None or ahead.made is not None:
            self._end_unmeasured(ahead, f"the run ended before it was measured: {reason}")

    def worktrees(self) -> list[Path]:
        """Worktrees the proposal ahead needs kept (the disk guard clears the others)."""
        ahead = self._ahead
        return [ahead.made.worktree] if ahead is not None and ahead.made is not None else []

    # ---------------------------------------------------------- thread side
    def _propose(self, run_id: int, ahead: Ahead) -> None:
        _LOCAL.ahead = True

        def check() -> None:
            aborted = self.controls.proposal_aborted()
            if aborted is not None:
                raise aborted

        def sleep(seconds: float) -> None:
            check()
            self.clock.sleep(seconds)
            check()

        backend = PatientBackend(
            _Interruptible(self.model, check),
            clock=self.clock,
            on_wait=lambda why: self._waiting(run_id, ahead.node, why),
            on_resume=lambda: self.report(f"{ahead.node.id:<10} the model answers again"),
            before_retry=lambda: self.pacer.before_call(run_id),
            sleep=sleep,
        )
        try:
            ahead.made = self.phases.propose(
                run_id, ahead.node, ahead.parent, ahead.parent_dir, backend=backend, check=check
            )
        except Exception as exc:  # the loop ends the node; this thread never takes the engine down
            ahead.error = exc

    def _waiting(self, run_id: int, node: Node, why: str) -> None:
        """The model is away: an event and a line; the engine's state stays the benchmark's."""
        self.recorder.event(run_id, EventKind.MODEL_WAITING, why, node_id=node.id)
        self.report(f"{node.id:<10} {why}")

    # -------------------------------------------------------------- helpers
    def _ready(self, parent: Node) -> Path | None:
        """The parent's built worktree when proposing on it runs no command here, else None."""
        built = self.trees.ready(parent.id)
        why = ""
        if built is None:
            why = "its worktree is not built yet"
        elif profile_due(self.config, self.store, parent.id):
            why = "it is not profiled yet"
        if why:
            self.report(f"{parent.id:<10} no proposal ahead on it: {why} (after this benchmark)")
            return None
        return built

    def _end_unmeasured(self, ahead: Ahead, reason: str) -> None:
        self.trees.remove_stray(ahead.node.id)
        self.recorder.end(ahead.node, NodeStatus.CANCELLED, reason)


class _Interruptible:
    """A backend whose stream stops (by raising) once the proposal ahead must end."""

    def __init__(self, inner: ModelBackend, check: Callable[[], None]) -> None:
        self.inner = inner
        self.check = check
        self.name = inner.name
        self.supports_grammar = bool(getattr(inner, "supports_grammar", False))

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        on_token: Callable[[str], None] | None = None,
        seed: int | None = None,
        grammar: str | None = None,
        forbid_unchanged: ForbidUnchanged | None = None,
    ) -> ModelReply:
        self.check()

        def relay(chunk: str) -> None:
            self.check()
            if on_token is not None:
                on_token(chunk)

        return self.inner.complete(
            messages,
            on_token=relay,
            seed=seed,
            grammar=grammar,
            forbid_unchanged=forbid_unchanged,
        )
