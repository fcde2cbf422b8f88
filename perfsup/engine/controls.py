"""What a person can change in a running engine, shared between its threads.

The command watcher (a thread, see `commands.py`) writes here; the loop reads
at safe points, and `ControlledExecutor` reads around every build, check and
bench command. One lock guards everything; a condition wakes waiters as soon
as a person pauses, resumes, aborts or stops.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from perfsup.config import Budgets
from perfsup.store.models import EngineState, NodeStatus
from perfsup.workspace.executor import Executor
from perfsup.workspace.runner import CommandResult

OVERRIDES_NAME = "overrides.json"
_WAIT_S = 0.2


class StepAborted(Exception):
    """The experiment in flight was ended by a person (abort, prune or stop)."""

    def __init__(self, status: NodeStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Controls:
    """Pause, stop, abort, hints and budgets: the person's side of the engine."""

    def __init__(self, budgets: Budgets, overrides_path: Path | None = None) -> None:
        self._cond = threading.Condition()
        self.overrides_path = overrides_path
        self.paused = False
        self.stop_reason: str | None = None
        self.promoted_run: int | None = None
        self.run_id: int | None = None
        self.current_node: str | None = None
        self._abort: StepAborted | None = None
        # A proposal made while current_node benchmarks (see pipeline.py).
        self.proposing: str | None = None
        self._proposal_abort: StepAborted | None = None
        self._step_cancel = threading.Event()
        self.state = EngineState.STARTING
        self.detail = ""
        self.hints: list[str] = []
        self.budget_overrides: dict[str, Any] = {}
        self.budgets = budgets
        self._load_overrides()

    # ------------------------------------------------------ loop side
    def begin(self, node_id: str) -> None:
        with self._cond:
            self.current_node = node_id
            self._abort = None
            self._step_cancel = threading.Event()

    def end(self) -> None:
        with self._cond:
            self.current_node = None
            self._abort = None

    # ------------------------------------------- a proposal made ahead
    def begin_proposal(self, node_id: str) -> None:
        with self._cond:
            self.proposing = node_id
            self._proposal_abort = None

    def proposal_aborted(self) -> StepAborted | None:
        """Why the proposal made ahead must end (pruned, or the run stops), or None."""
        with self._cond:
            if self._proposal_abort is None and self.stop_reason is not None:
                return StepAborted(NodeStatus.CANCELLED, self.stop_reason)
            return self._proposal_abort

    def abort_proposal(self, status: NodeStatus, reason: str) -> None:
        with self._cond:
            if self.proposing is not None:
                self._proposal_abort = StepAborted(status, reason)

    def take_proposal(self, node_id: str) -> None:
        """The proposal made ahead becomes the experiment in flight, keeping its abort."""
        with self._cond:
            aborted = self._proposal_abort if self.proposing == node_id else None
            self.proposing = None
            self._proposal_abort = None
            self.current_node = node_id
            self._abort = aborted
            self._step_cancel = threading.Event()

    def drop_proposal(self) -> None:
        with self._cond:
            self.proposing = None
            self._proposal_abort = None

    def raise_if_aborted(self) -> None:
        with self._cond:
            if self._abort is not None:
                raise self._abort

    def sleep_unless_stopped(self, seconds: float, sleep: Callable[[float], None]) -> None:
        """Sleep; raise if the experiment was aborted or the run stopped, before or after.

        The sleep itself is not cut short (it goes through the engine's clock),
        so a stop during a wait for the model takes effect at the next try.
        """
        for when in ("before", "after"):
            with self._cond:
                if self._abort is not None:
                    raise self._abort
                if self.stop_reason is not None:
                    raise StepAborted(NodeStatus.CANCELLED, self.stop_reason)
            if when == "before":
                sleep(seconds)

    def safe_point(self) -> str | None:
        """Wait while paused; a reason to leave the loop (stop or promote), or None."""
        with self._cond:
            while self.paused and self.stop_reason is None:
                self._cond.wait(_WAIT_S)
            if self.stop_reason is not None:
                return self.stop_reason
            if self.promoted_run is not None:
                return f"a person started run {self.promoted_run}"
            return None

    def wait_for_step(self) -> threading.Event:
        """Block while paused, raise if aborted; then the cancel event of the next command."""
        with self._cond:
            while self.paused and self._abort is None and self.stop_reason is None:
                self._cond.wait(_WAIT_S)
            if self._abort is not None:
                raise self._abort
            self._step_cancel = threading.Event()
            return self._step_cancel

    def set_state(self, state: EngineState, detail: str | None = None) -> None:
        with self._cond:
            self.state = state
            if detail is not None:
                self.detail = detail

    # --------------------------------------------------- person side
    def pause(self) -> None:
        with self._cond:
            self.paused = True
            self._step_cancel.set()  # the command in flight stops now and re-runs on resume
            self._cond.notify_all()

    def resume(self) -> None:
        with self._cond:
            self.paused = False
            self._cond.notify_all()

    def abort(self, status: NodeStatus, reason: str) -> None:
        with self._cond:
            self._abort = StepAborted(status, reason)
            self._step_cancel.set()
            self._cond.notify_all()

    def stop(self, reason: str) -> None:
        with self._cond:
            self.stop_reason = reason
            if self.current_node is not None:
                self._abort = StepAborted(NodeStatus.CANCELLED, reason)
            if self.proposing is not None:
                self._proposal_abort = StepAborted(NodeStatus.CANCELLED, reason)
            self._step_cancel.set()
            self._cond.notify_all()

    def add_hint(self, hint: str) -> None:
        with self._cond:
            self.hints.append(hint)
            self._save_overrides()

    def set_budgets(self, budgets: Budgets, changed: Mapping[str, Any]) -> None:
        with self._cond:
            self.budgets = budgets
            self.budget_overrides.update(changed)
            self._save_overrides()

    def hint_list(self) -> list[str]:
        with self._cond:
            return list(self.hints)

    # ----------------------------------------------------- persistence
    def _load_overrides(self) -> None:
        """Hints and budget changes survive a restart of the engine."""
        if self.overrides_path is None or not self.overrides_path.is_file():
            return
        try:
            data = json.loads(self.overrides_path.read_text(encoding="utf-8"))
            hints = [str(h) for h in data.get("hints", [])]
            overrides = dict(data.get("budgets", {}))
            budgets = Budgets.model_validate({**self.budgets.model_dump(), **overrides})
        except (OSError, ValueError, TypeError, AttributeError):
            return  # a damaged file only loses the person's overrides, never the run
        self.hints = hints
        self.budget_overrides = overrides
        self.budgets = budgets

    def _save_overrides(self) -> None:
        if self.overrides_path is None:
            return
        data = {"hints": self.hints, "budgets": self.budget_overrides}
        tmp = self.overrides_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
        tmp.replace(self.overrides_path)


class ControlledExecutor:
    """An executor that obeys pause, abort and stop within a fraction of a second.

    A paused command is killed and re-run from its start on resume: a
    benchmark run with a pause inside it would measure the pause. An aborted
    one raises `StepAborted` out of the step.
    """

    def __init__(self, inner: Executor, controls: Controls) -> None:
        self.inner = inner
        self.controls = controls

    def run(
        self,
        command: str,
        cwd: Path,
        log_path: Path,
        timeout_s: float,
        *,
        env: Mapping[str, str] | None = None,
        on_line: Callable[[str, str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> CommandResult:
        while True:
            step_cancel = self.controls.wait_for_step()
            if cancel is not None and cancel.is_set():
                step_cancel.set()
            result = self.inner.run(
                command, cwd, log_path, timeout_s, env=env, on_line=on_line, cancel=step_cancel
            )
            if not result.cancelled:
                return result
            self.controls.raise_if_aborted()
            if self.controls.paused:
                _note(log_path, "--- perfsup: paused; this command runs again on resume ---")
                continue
            return result


def _note(log_path: Path, line: str) -> None:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
