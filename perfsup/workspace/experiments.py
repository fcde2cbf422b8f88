"""The experiment executor interface: submit, stream lines, get the result, cancel.

Where `Executor` runs one command, an `ExperimentExecutor` runs a whole
experiment (build, check and every benchmark pair of parent and candidate)
on one host, through the runner module, and streams its line protocol back.
Implementations: `LocalExperiments` (a thread here), `DaskExperiments`
(`dask_executor.py`) and `SkyExperiments` (`sky_executor.py`).
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Any, Protocol

from perfsup.workspace.experiment import ExperimentSpec
from perfsup.workspace.experiment_runner import run_experiment

__all__ = ["ExperimentExecutor", "ExperimentHandle", "ExperimentLost", "LocalExperiments"]


class ExperimentLost(Exception):
    """The host running the experiment went away; its samples cannot be trusted."""


class ExperimentHandle(Protocol):
    """One submitted experiment."""

    two_way: bool  # False: controls cannot be sent; the spec's plan runs to its end

    def lines(self, timeout: float) -> list[str]:
        """Lines that arrived, waiting up to `timeout` for the first; [] when none.

        Raises ExperimentLost when the host went away before the end."""
        ...

    def send(self, control: dict[str, Any]) -> None:
        """A control for the runner (two-way handles only)."""
        ...

    def result(self, timeout: float) -> dict[str, Any]:
        """The runner's summary (host, failure, command_s) once it ended."""
        ...

    def cancel(self) -> None:
        """Stop it; the host kills every process the experiment started."""
        ...


class ExperimentExecutor(Protocol):
    """Runs experiments somewhere; one benchmark per host at a time."""

    kind: str

    def submit(
        self, spec: ExperimentSpec, exclude: frozenset[str] = frozenset()
    ) -> ExperimentHandle:
        """Start `spec` on a host whose name is not in `exclude`."""
        ...

    def close(self) -> None: ...


class _LocalHandle:
    two_way = True

    def __init__(self, spec: ExperimentSpec, root: Path | None) -> None:
        self._lines: queue.Queue[str] = queue.Queue()
        self._controls: queue.Queue[dict[str, Any]] = queue.Queue()
        self._cancel = threading.Event()
        self._summary: dict[str, Any] | None = None
        self._thread = threading.Thread(
            target=self._main, args=(spec, root), name=f"experiment-{spec.exp_id}", daemon=True
        )
        self._thread.start()

    def _main(self, spec: ExperimentSpec, root: Path | None) -> None:
        def control(timeout: float) -> dict[str, Any] | None:
            try:
                return self._controls.get(timeout=timeout)
            except queue.Empty:
                return None

        self._summary = run_experiment(
            spec, self._lines.put, control=control, cancel=self._cancel, root=root
        )

    def lines(self, timeout: float) -> list[str]:
        try:
            got = [self._lines.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                got.append(self._lines.get_nowait())
            except queue.Empty:
                return got

    def send(self, control: dict[str, Any]) -> None:
        self._controls.put(control)

    def result(self, timeout: float) -> dict[str, Any]:
        self._thread.join(timeout)
        if self._summary is None:
            raise TimeoutError(f"the experiment did not end within {timeout:g} s")
        return self._summary

    def cancel(self) -> None:
        self._cancel.set()


class LocalExperiments:
    """Experiments on this machine, in a thread, through the same runner module."""

    kind = "local"

    def __init__(self, root: Path | None = None) -> None:
        self.root = root

    def submit(self, spec: ExperimentSpec, exclude: frozenset[str] = frozenset()) -> _LocalHandle:
        return _LocalHandle(spec, self.root)

    def close(self) -> None:
        return None
