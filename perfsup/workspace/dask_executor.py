"""Experiments on a Dask distributed cluster: a few machines at home.

    dask scheduler                                   # on one machine
    dask worker tcp://SCHED:8786 --nthreads 1 --resources "bench_slot=1"   # on each

Each experiment is one Dask task that needs the `bench_slot` resource, so a
host runs one benchmark at a time, and parent and candidate are measured in
the same task, on the same host. The task runs the runner module; perfsup
ships the parent commit as a git bundle plus the patch, never a worktree.

Lines travel back through a Dask `Queue` in small batches (one scheduler
round trip per batch, not per line); controls go the other way through a
second queue; cancel is a Dask `Event` that the task turns into killing the
process tree of the command in flight. A worker that leaves mid-experiment
(crash, shutdown, network) raises `ExperimentLost` on the engine side, and
the task is cancelled so Dask does not silently re-run it elsewhere.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from typing import Any

from distributed import Client, Event, Queue, get_worker

from perfsup.workspace.experiment import ExperimentSpec
from perfsup.workspace.experiment_runner import host_info, run_experiment
from perfsup.workspace.experiments import ExperimentLost

__all__ = ["BENCH_SLOT", "DaskExperiments"]

BENCH_SLOT = "bench_slot"
_FLUSH_S = 0.05  # how long a line may wait on the worker before it is sent
_URGENT = ("EXPERIMENT_STATUS: paused", "EXPERIMENT_STATUS: ready", "EXPERIMENT_STATUS: done")
_LIVENESS_S = 0.5  # how often a quiet stream checks that its worker still exists
_POLL_S = 0.005  # between polls of a queue: one scheduler round trip each


def _experiment_task(spec_json: str, name: str) -> dict[str, Any]:
    """Runs on a worker: the runner, with lines, controls and cancel over Dask."""
    worker = get_worker()
    lines: Queue = Queue(f"{name}-lines")
    controls: Queue = Queue(f"{name}-ctrl")
    cancel_event = Event(f"{name}-cancel")
    cancel = threading.Event()
    buffer: list[str] = []
    lock = threading.Lock()
    done = threading.Event()

    def flush() -> None:
        with lock:
            batch = buffer[:]
            buffer.clear()
        if batch:
            lines.put(batch)

    def emit(line: str) -> None:
        with lock:
            buffer.append(line)
        if line.startswith(_URGENT):
            flush()  # the engine waits on these

    def pump() -> None:
        # Flushes output and turns the engine's cancel (or this worker
        # closing) into killing the command's whole process tree.
        while not done.is_set():
            if cancel_event.is_set() or worker.status.name in ("closing", "closed", "failed"):
                cancel.set()
            flush()
            done.wait(_FLUSH_S)

    waiting: list[dict[str, Any]] = []

    def control(timeout: float) -> dict[str, Any] | None:
        # Polled without a server-side timeout: a timed-out get logs an error there.
        end = time.monotonic() + timeout
        while not waiting:
            waiting.extend(controls.get(batch=True))
            if waiting or time.monotonic() >= end:
                break
            time.sleep(_POLL_S)
        return waiting.pop(0) if waiting else None

    pumper = threading.Thread(target=pump, name=f"{name}-pump", daemon=True)
    pumper.start()
    info = {**host_info(), "worker": worker.address}
    try:
        return run_experiment(
            ExperimentSpec.from_json(spec_json), emit, control=control, cancel=cancel, host=info
        )
    finally:
        done.set()
        pumper.join()
        flush()


class _DaskHandle:
    two_way = True

    def __init__(self, client: Client, spec: ExperimentSpec, workers: list[str] | None) -> None:
        self.client = client
        self.name = f"perfsup-{spec.exp_id}-{uuid.uuid4().hex[:8]}"
        self._lines = Queue(f"{self.name}-lines", client=client)
        self._controls = Queue(f"{self.name}-ctrl", client=client)
        self._cancel = Event(f"{self.name}-cancel", client=client)
        self.worker: str | None = None  # address, from the runner's host line
        self._next_check = 0.0
        self.future = client.submit(
            _experiment_task,
            spec.to_json(),
            self.name,
            key=self.name,
            resources={BENCH_SLOT: 1},
            workers=workers,
            allow_other_workers=False,
            pure=False,
            retries=0,
        )

    def lines(self, timeout: float) -> list[str]:
        got: list[str] = []
        end = time.monotonic() + timeout
        while True:  # polled: a server-side get timeout would log an error each time
            for batch in self._lines.get(batch=True):
                got.extend(batch)
            if got or time.monotonic() >= end:
                break
            time.sleep(_POLL_S)
        if self.worker is None:
            for line in got:
                if line.startswith("EXPERIMENT_STATUS: host "):
                    self.worker = _worker_of(line)
        if not got:
            self._check_alive()
        return got

    def _check_alive(self) -> None:
        if self.future.status == "error":
            raise ExperimentLost(f"the experiment task failed: {self.future.exception()}")
        now = time.monotonic()
        if self.worker is None or self.future.done() or now < self._next_check:
            return
        self._next_check = now + _LIVENESS_S
        workers = self.client.run_on_scheduler(_worker_addresses)
        if self.worker not in workers:
            self.future.cancel()
            raise ExperimentLost(f"worker {self.worker} left the cluster mid-experiment")

    def send(self, control: dict[str, Any]) -> None:
        self._controls.put(control)

    def result(self, timeout: float) -> dict[str, Any]:
        summary: dict[str, Any] = self.future.result(timeout=timeout)
        self._close()
        return summary

    def cancel(self) -> None:
        self._cancel.set()

    def _close(self) -> None:
        for q in (self._lines, self._controls):
            with contextlib.suppress(Exception):
                q.close()


def _worker_addresses(dask_scheduler: Any) -> list[str]:
    return list(dask_scheduler.workers)


def _worker_of(line: str) -> str | None:
    import json

    try:
        data = json.loads(line.split(" ", 2)[2])
    except (IndexError, ValueError):
        return None
    worker = data.get("worker")
    return str(worker) if worker else None


class DaskExperiments:
    """Submit experiments to a Dask scheduler (an address, or a Client you own)."""

    kind = "dask"

    def __init__(self, scheduler: str | Client, *, connect_timeout_s: float = 10.0) -> None:
        if isinstance(scheduler, Client):
            self.client = scheduler
            self._own = False
        else:
            self.client = Client(scheduler, timeout=connect_timeout_s, set_as_default=False)
            self._own = True

    def hosts(self) -> dict[str, str]:
        """Worker address -> host name, for the workers with a bench slot."""
        info = self.client.scheduler_info(n_workers=-1)["workers"]
        return {
            addr: str(w.get("host") or addr)
            for addr, w in info.items()
            if w.get("resources", {}).get(BENCH_SLOT)
        }

    def submit(self, spec: ExperimentSpec, exclude: frozenset[str] = frozenset()) -> _DaskHandle:
        workers = None
        if exclude:
            workers = [a for a in self.hosts() if a not in exclude]
            if not workers:
                raise ExperimentLost("no worker with a bench slot is left in the pool")
        return _DaskHandle(self.client, spec, workers)

    def close(self) -> None:
        if self._own:
            self.client.close()
