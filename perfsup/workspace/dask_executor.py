"""Experiments on a Dask distributed cluster: a few machines at home.

    dask scheduler                                   # on one machine
    dask worker tcp://SCHED:8786 --nthreads 1 --resources "bench_slot=1"   # on each

Each experiment is one Dask task that needs the `bench_slot` resource, so a
host runs one benchmark at a time, and parent and candidate are measured in
the same task, on the same host. The task runs the runner module; perfsup
ships the parent commit as a git bundle plus the patch, never a worktree.

Lines travel back as Dask topic events (`Worker.log_event`, pushed by the
scheduler to the subscribed client): nothing polls, a batch costs no round
trip, and the engine blocks on a local queue until lines arrive. Controls go
the other way through a Dask `Queue`, with an `Event` to wake the worker (an
`Event.wait` with a timeout is quiet on the scheduler, a `Queue.get` with one
logs an error there). Cancel is a Dask `Event` that the task turns into
killing the process tree of the command in flight. A worker that leaves
mid-experiment (crash, shutdown, network) raises `ExperimentLost` on the
engine side, and the task is cancelled so Dask does not silently re-run it
elsewhere.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
import uuid
from typing import Any

from distributed import Client, Event, Queue, get_worker

from perfsup.workspace.experiment import ExperimentSpec
from perfsup.workspace.experiment_runner import run_experiment
from perfsup.workspace.experiments import ExperimentLost
from perfsup.workspace.runner_host import host_info

__all__ = ["BENCH_SLOT", "DaskExperiments"]

BENCH_SLOT = "bench_slot"
_FLUSH_S = 0.05  # how long a line may wait on the worker before it is sent
_LOST = "EXPERIMENT_STATUS: worker_closing"  # the transport's own line, never the runner's
_URGENT = (
    "EXPERIMENT_STATUS: paused",
    "EXPERIMENT_STATUS: ready",
    "EXPERIMENT_STATUS: done",
    _LOST,
)
_LIVENESS_S = 0.5  # how often a quiet stream checks that its worker still exists
_CANCEL_WAIT_S = 0.5  # one blocking Event.wait on the scheduler at a time


def _experiment_task(spec_json: str, name: str, topic: str) -> dict[str, Any]:
    """Runs on a worker: the runner, with lines, controls and cancel over Dask."""
    worker = get_worker()
    controls: Queue = Queue(f"{name}-ctrl")
    ctrl_ready = Event(f"{name}-ctrl-ready")
    cancel_event = Event(f"{name}-cancel")
    cancel = threading.Event()
    buffer: list[str] = []
    lock = threading.Lock()
    done = threading.Event()

    def flush() -> None:
        with lock:  # sent under the lock: two flushing threads keep the order
            if buffer:
                worker.log_event(topic, [name, buffer[:]])  # queued, no round trip
                buffer.clear()

    def emit(line: str) -> None:
        with lock:
            buffer.append(line)
        if line.startswith(_URGENT):
            flush()  # the engine waits on these

    def pump() -> None:
        while not done.wait(_FLUSH_S):
            flush()

    def watch() -> None:
        # Turns the engine's cancel (or this worker closing) into killing the
        # command's whole process tree; blocks on the scheduler, no polling.
        while not done.is_set():
            if worker.status.name in ("closing", "closed", "failed"):
                # Said first, so the engine re-queues the node instead of
                # reading the cancelled command as the experiment's outcome.
                emit(f"{_LOST} {json.dumps({'worker': worker.address})}")
                cancel.set()
                return
            with contextlib.suppress(Exception):  # the scheduler going away
                if cancel_event.wait(_CANCEL_WAIT_S):
                    cancel.set()
                    return

    waiting: list[dict[str, Any]] = []

    def control(timeout: float) -> dict[str, Any] | None:
        end = time.monotonic() + timeout
        while not waiting:
            ctrl_ready.clear()  # before the get: a control put after it sets it again
            waiting.extend(controls.get(batch=True))
            left = end - time.monotonic()
            if waiting or left <= 0:
                break
            ctrl_ready.wait(left)
        return waiting.pop(0) if waiting else None

    threads = [
        threading.Thread(target=pump, name=f"{name}-pump", daemon=True),
        threading.Thread(target=watch, name=f"{name}-watch", daemon=True),
    ]
    for thread in threads:
        thread.start()
    info = {**host_info(), "worker": worker.address}
    try:
        return run_experiment(
            ExperimentSpec.from_json(spec_json), emit, control=control, cancel=cancel, host=info
        )
    finally:
        done.set()
        with contextlib.suppress(Exception):
            # Wakes our own watcher from its wait on the scheduler, so that no
            # wait outlives the task (the engine's cancel of an ended
            # experiment is a no-op anyway).
            cancel_event.set()
        for thread in threads:
            thread.join(_CANCEL_WAIT_S * 2)
        flush()


class _DaskHandle:
    two_way = True

    def __init__(
        self,
        owner: DaskExperiments,
        spec: ExperimentSpec,
        workers: list[str] | None,
    ) -> None:
        client = self.client = owner.client
        self.owner = owner
        self.name = f"perfsup-{spec.exp_id}-{uuid.uuid4().hex[:8]}"
        self.inbox: queue.Queue[list[str]] = queue.Queue()
        owner.inboxes[self.name] = self.inbox
        self._controls = Queue(f"{self.name}-ctrl", client=client)
        self._ctrl_ready = Event(f"{self.name}-ctrl-ready", client=client)
        self._cancel = Event(f"{self.name}-cancel", client=client)
        self.worker: str | None = None  # address, from the runner's host line
        self._next_check = 0.0
        self.future = client.submit(
            _experiment_task,
            spec.to_json(),
            self.name,
            owner.topic,
            key=self.name,
            resources={BENCH_SLOT: 1},
            workers=workers,
            allow_other_workers=False,
            pure=False,
            retries=0,
        )

    def lines(self, timeout: float) -> list[str]:
        got: list[str] = []
        try:  # the client's event loop fills the inbox as events arrive
            got.extend(self.inbox.get(timeout=timeout))
            while True:
                got.extend(self.inbox.get_nowait())
        except queue.Empty:
            pass
        if any(line.startswith(_LOST) for line in got):
            self.future.cancel()
            self._close()
            raise ExperimentLost(f"worker {self.worker} is shutting down mid-experiment")
        if got and got[-1].startswith("EXPERIMENT_STATUS: done"):
            self._close()  # the runner's last line: nothing more will come
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
        self._ctrl_ready.set()

    def result(self, timeout: float) -> dict[str, Any]:
        summary: dict[str, Any] = self.future.result(timeout=timeout)
        self._close()
        return summary

    def cancel(self) -> None:
        self._cancel.set()

    def _close(self) -> None:
        self.owner.inboxes.pop(self.name, None)
        with contextlib.suppress(Exception):
            self._controls.close()


def _worker_addresses(dask_scheduler: Any) -> list[str]:
    return list(dask_scheduler.workers)


def _worker_of(line: str) -> str | None:
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
        # One topic per engine: the scheduler keeps a bounded log per topic.
        self.topic = f"perfsup-lines-{self.client.id}"
        self.inboxes: dict[str, queue.Queue[list[str]]] = {}
        self.client.subscribe_topic(self.topic, self._deliver)

    def _deliver(self, event: tuple[float, Any]) -> None:
        """On the client's event loop: a batch of lines for one experiment."""
        name, batch = event[1]
        inbox = self.inboxes.get(name)
        if inbox is not None:
            inbox.put(list(batch))

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
        return _DaskHandle(self, spec, workers)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.unsubscribe_topic(self.topic)
        if self._own:
            self.client.close()
