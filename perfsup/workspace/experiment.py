"""What an experiment is when it leaves the engine, and the lines it prints.

An `ExperimentSpec` is everything a host needs to run one experiment on its
own: where the parent commit comes from (a git bundle, or a repository URL),
the parent commit, the candidate's patch, the build, check and bench
commands, and the metrics to collect. No worktree is shipped.

The runner (`experiment_runner.py`) prints one line protocol on every engine,
and the engine reads it back with `parse_line`:

    EXPERIMENT_STATUS: host {"host": "box2", "cpu_model": "...", ...}
    EXPERIMENT_STATUS: step {"step": "build", "side": "candidate"}
    |build:candidate:out| <a line the command printed>
    |build:candidate:log| --- perfsup: exit 0 after 1.52 s
    EXPERIMENT_STATUS: step_done {"step": "build", "side": "candidate", "exit": 0, ...}
    EXPERIMENT_STATUS: ready {}
    EXPERIMENT_STATUS: sample {"phase": "decide", "side": "parent", "index": 0, ...}
    METRIC time_ms=12.5
    EXPERIMENT_STATUS: paused {"pairs": 6}
    EXPERIMENT_STATUS: failed {"status": "checks_failed", "reason": "..."}
    EXPERIMENT_STATUS: done {"command_s": 12.3}

A `sample` status line is always followed by one `METRIC` line with every
configured metric of that run (the autoresearch convention). Command output
is prefixed with `|step:side:stream|` so a `METRIC` line a benchmark prints
can never be mistaken for a sample. Stream `out` and `err` are the command's;
stream `log` carries the lines the runner writes into the step's log around
them (each command's end line with its duration, the pair markers), so the
engine's copy of a log reads like a local one.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from perfsup.metrics.lines import parse_metric_lines

__all__ = [
    "Event",
    "ExperimentSpec",
    "Sample",
    "format_metric",
    "format_output",
    "format_status",
    "parse_line",
]

STATUS_PREFIX = "EXPERIMENT_STATUS: "


@dataclass(frozen=True)
class Command:
    """A shell line and its time limit."""

    run: str
    timeout_s: float


@dataclass
class ExperimentSpec:
    """One experiment, self-contained: a host needs nothing else to run it."""

    exp_id: str  # the node id; names folders and dask keys
    parent_commit: str
    patch: str | None  # None: an A/A calibration of the parent against itself
    bench: Command
    metrics: list[dict[str, Any]]  # MetricSpec.model_dump() of every metric, in order
    build: Command | None = None
    check: Command | None = None
    bundle_b64: str | None = None  # a git bundle holding parent_commit
    repo_url: str | None = None  # or a URL the host can fetch it from
    seed: int = 0
    # Without a control channel (SkyPilot) the runner runs these phases by
    # itself: [{"phase": "decide", "warmup": 1, "pairs": 14}, ...].
    plan: list[dict[str, Any]] = field(default_factory=list)
    sandbox: dict[str, Any] | None = None  # SandboxSettings.model_dump(); None: no box

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ExperimentSpec:
        data = json.loads(text)
        for key in ("bench", "build", "check"):
            if data.get(key) is not None:
                data[key] = Command(**data[key])
        return cls(**data)

    @property
    def bundle(self) -> bytes | None:
        return base64.b64decode(self.bundle_b64) if self.bundle_b64 else None


@dataclass(frozen=True)
class Sample:
    """One benchmark run as the runner reported it."""

    phase: str
    side: str
    index: int
    warmup: bool
    values: dict[str, float]


@dataclass(frozen=True)
class Event:
    """One parsed protocol line: a status (kind + data), a sample or command output."""

    kind: str  # host, step, step_done, ready, sample, paused, failed, done, output
    data: dict[str, Any]
    sample: Sample | None = None
    text: str = ""  # output lines: the command's own line


def format_status(kind: str, data: dict[str, Any] | None = None) -> str:
    return f"{STATUS_PREFIX}{kind} {json.dumps(data or {}, sort_keys=True)}"


def format_metric(values: dict[str, float]) -> str:
    return "METRIC " + " ".join(f"{name}={value!r}" for name, value in values.items())


def format_output(step: str, side: str, stream: str, line: str) -> str:
    return f"|{step}:{side}:{stream}| {line}"


class LineReader:
    """Turns protocol lines into events; a `sample` takes its values from the next line."""

    def __init__(self) -> None:
        self._pending: dict[str, Any] | None = None

    def feed(self, line: str) -> Event | None:
        """The event this line completes, or None (a sample header, a stray line)."""
        if line.startswith("|"):
            label, _, text = line.partition("| ")
            step, side, stream = [*label[1:].split(":"), "", "", ""][:3]
            return Event("output", {"step": step, "side": side, "stream": stream}, text=text)
        if self._pending is not None and line.startswith("METRIC"):
            head: dict[str, Any] = self._pending
            self._pending = None
            values = {name: found[-1] for name, found in parse_metric_lines(line).items()}
            sample = Sample(
                phase=str(head["phase"]),
                side=str(head["side"]),
                index=int(head["index"]),
                warmup=bool(head["warmup"]),
                values=values,
            )
            return Event("sample", head, sample=sample)
        if not line.startswith(STATUS_PREFIX):
            return None  # e.g. a cloud engine's own log lines around ours
        kind, _, rest = line[len(STATUS_PREFIX) :].partition(" ")
        try:
            data = json.loads(rest) if rest.strip() else {}
        except json.JSONDecodeError:
            return None
        if kind == "sample":
            self._pending = data
            return None
        return Event(kind, data)


def parse_line(reader: LineReader, line: str) -> Event | None:
    """Shorthand for `reader.feed(line)`."""
    return reader.feed(line)
