"""Experiments on a SkyPilot cluster (cloud machines); the `skypilot` extra.

One experiment at a time per cluster: the spec is written to a file mounted
on the cluster and the job runs the same runner module,
`python -m perfsup.workspace.experiment_runner`, which prints the same line
protocol; the job's log is tailed back. There is no way to send controls to
a running job, so the spec carries its plan (calibrate, decide, verify) and
every build starts from clean. The engine cancels the job once it has
decided.

The SDK is reached only through `SkySdk` (launch, tail_logs, cancel), so
tests replace it with a recorder that replays a real log of the protocol.
"""

from __future__ import annotations

import queue
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from perfsup.workspace.experiment import ExperimentSpec, LineReader
from perfsup.workspace.experiments import ExperimentLost

__all__ = ["RealSky", "SkyExperiments", "SkySdk"]

REMOTE_SPEC = "~/perfsup-spec.json"
RUN = f"python -m perfsup.workspace.experiment_runner {REMOTE_SPEC}"


class SkySdk(Protocol):
    """The three SkyPilot calls perfsup makes."""

    def launch(self, task: dict[str, Any], cluster: str) -> int:
        """Run `task` (a SkyPilot task as a dict) on `cluster`; the job id."""
        ...

    def tail_logs(self, cluster: str, job_id: int) -> Iterable[str]:
        """The job's output lines as they come, until it ends."""
        ...

    def cancel(self, cluster: str, job_id: int) -> None: ...


class RealSky:
    """SkyPilot's client SDK (`pip install "perfsup[skypilot]"`, then `sky check`)."""

    def __init__(self) -> None:
        try:
            import sky  # type: ignore[import-not-found]
        except ImportError as exc:
            raise RuntimeError(
                "executor kind 'skypilot' needs SkyPilot: pip install 'perfsup[skypilot]'"
            ) from exc
        self.sky = sky

    def launch(self, task: dict[str, Any], cluster: str) -> int:
        request = self.sky.launch(self.sky.Task.from_yaml_config(task), cluster_name=cluster)
        job_id, _handle = self.sky.stream_and_get(request)
        return int(job_id)

    def tail_logs(self, cluster: str, job_id: int) -> Iterable[str]:
        lines = self.sky.tail_logs(cluster, job_id, follow=True, preload_content=False)
        for chunk in lines:
            if chunk is None:
                continue
            yield from str(chunk).splitlines()

    def cancel(self, cluster: str, job_id: int) -> None:
        self.sky.get(self.sky.cancel(cluster, job_ids=[job_id]))


class _SkyHandle:
    two_way = False

    def __init__(self, sdk: SkySdk, cluster: str, spec: ExperimentSpec, setup: str) -> None:
        self.sdk = sdk
        self.cluster = cluster
        self._dir = tempfile.TemporaryDirectory(prefix="perfsup-sky-")
        spec_file = Path(self._dir.name) / "spec.json"
        spec_file.write_text(spec.to_json(), encoding="utf-8")
        task = {
            "name": f"perfsup-{spec.exp_id}",
            "setup": setup,
            "file_mounts": {REMOTE_SPEC: str(spec_file)},
            "run": RUN,
        }
        self.job_id = sdk.launch(task, cluster)
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._summary: dict[str, Any] = {"host": None, "failure": None, "command_s": 0.0}
        self._ended = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._tail, daemon=True)
        self._thread.start()

    def _tail(self) -> None:
        reader = LineReader()
        try:
            for line in self.sdk.tail_logs(self.cluster, self.job_id):
                self._lines.put(line)
                event = reader.feed(line)
                if event is None:
                    continue
                if event.kind == "host":
                    self._summary["host"] = event.data
                elif event.kind == "failed":
                    self._summary["failure"] = event.data
                elif event.kind == "done":
                    self._summary["command_s"] = event.data.get("command_s", 0.0)
                    self._done = True
        finally:
            self._ended.set()
            self._lines.put(None)

    def lines(self, timeout: float) -> list[str]:
        got: list[str] = []
        try:
            item = self._lines.get(timeout=timeout)
            while True:
                if item is None:
                    self._lines.put(None)  # the stream stays ended for later calls
                    if not got and not self._done:
                        raise ExperimentLost("the cloud job's log ended before its last line")
                    break
                got.append(item)
                item = self._lines.get_nowait()
        except queue.Empty:
            pass
        return got

    def send(self, control: dict[str, Any]) -> None:
        raise RuntimeError("a SkyPilot job takes no controls; its spec carries the plan")

    def result(self, timeout: float) -> dict[str, Any]:
        if not self._ended.wait(timeout):
            raise TimeoutError(f"the cloud job did not end within {timeout:g} s")
        self._dir.cleanup()
        return self._summary

    def cancel(self) -> None:
        if not self._ended.is_set():
            self.sdk.cancel(self.cluster, self.job_id)


class SkyExperiments:
    """One experiment at a time on one SkyPilot cluster."""

    kind = "skypilot"

    def __init__(
        self, cluster: str, sdk: SkySdk | None = None, setup: str = "pip install -q perfsup"
    ) -> None:
        self.cluster = cluster
        self.sdk = sdk if sdk is not None else RealSky()
        self.setup = setup

    def submit(self, spec: ExperimentSpec, exclude: frozenset[str] = frozenset()) -> _SkyHandle:
        return _SkyHandle(self.sdk, self.cluster, spec, self.setup)

    def close(self) -> None:
        return None
