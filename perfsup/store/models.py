"""The SQLModel tables of a run store.

One SQLite file holds everything a night produced: runs, the experiment tree,
every benchmark sample, every model call, an audit log of events and the
queue of commands from the TUI to the engine. The Alembic migrations in
`migrations/` create exactly these tables; a test keeps the two in step.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class NodeStatus(StrEnum):
    """The state machine of an experiment (ARCHITECTURE.md, the state diagram)."""

    QUEUED = "queued"
    PROPOSING = "proposing"
    APPLYING = "applying"
    BUILDING = "building"
    CHECKING = "checking"
    BENCHMARKING = "benchmarking"
    KEPT = "kept"
    DISCARDED = "discarded"
    CHECKS_FAILED = "checks_failed"
    BUILD_FAILED = "build_failed"
    CRASHED = "crashed"
    TIMEOUT = "timeout"
    MALFORMED = "malformed"
    REJECTED = "rejected"
    PRUNED = "pruned"
    INTERRUPTED = "interrupted"
    CANCELLED = "cancelled"

    @property
    def in_flight(self) -> bool:
        return self in IN_FLIGHT

    @property
    def finished(self) -> bool:
        return self not in IN_FLIGHT and self is not NodeStatus.QUEUED


IN_FLIGHT = frozenset(
    {
        NodeStatus.PROPOSING,
        NodeStatus.APPLYING,
        NodeStatus.BUILDING,
        NodeStatus.CHECKING,
        NodeStatus.BENCHMARKING,
    }
)


class EngineState(StrEnum):
    """What the engine is doing now (Run.engine_state, the TUI's status line)."""

    STARTING = "starting"
    RUNNING = "running"
    WAITING = "waiting"  # for the model server, a quiet host or a noisy machine
    PAUSED = "paused"
    STOPPED = "stopped"


class EventKind(StrEnum):
    """Every kind of audit-log line (Event.kind); the TUI switches on these."""

    RUN_STARTED = "run_started"
    RUN_RESUMED = "run_resumed"
    RUN_FINISHED = "run_finished"
    BUDGET_REACHED = "budget_reached"  # an experiment or token budget ended the run
    PAUSED = "paused"
    ORPHANS_KILLED = "orphans_killed"
    NODE_KEPT = "node_kept"  # an experiment ended kept (a new winner)
    NODE_FINISHED = "node_finished"  # an experiment ended any other way
    NODE_INTERRUPTED = "node_interrupted"
    NODE_REQUEUED = "node_requeued"
    PROPOSAL_AHEAD = "proposal_ahead"
    MODEL_WARNING = "model_warning"
    MODEL_CALL_FAILED = "model_call_failed"
    MODEL_WAITING = "model_waiting"
    MODEL_BACK = "model_back"
    CALIBRATION = "calibration"
    CALIBRATION_FAILED = "calibration_failed"
    CONFIRMATION = "confirmation"  # the end-of-night best-vs-baseline measurement
    NOISE_GUARD = "noise_guard"
    HOST_GUARD = "host_guard"
    HOST_REMOVED = "host_removed"
    PROFILE = "profile"
    PROFILE_FAILED = "profile_failed"
    CONFIG_REFUSED = "config_refused"
    MINIMIZE = "minimize"
    COMMAND_PAUSE = "command_pause"
    COMMAND_RESUME = "command_resume"
    COMMAND_ABORT = "command_abort"
    COMMAND_PRUNE = "command_prune"
    COMMAND_UNPRUNE = "command_unprune"
    COMMAND_PRIORITY = "command_priority"
    COMMAND_PROMOTE = "command_promote"
    COMMAND_STEER = "command_steer"
    COMMAND_BUDGETS = "command_budgets"
    COMMAND_STOP = "command_stop"
    COMMAND_UNKNOWN = "command_unknown"  # a command row of a kind this version does not know

    @classmethod
    def of_command(cls, kind: str) -> EventKind:
        """The event kind of a person's command (`command_<kind>`)."""
        try:
            return cls(f"command_{kind}")
        except ValueError:
            return cls.COMMAND_UNKNOWN


class RunStatus(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"


class CommandStatus(StrEnum):
    PENDING = "pending"
    APPLIED = "applied"
    REJECTED = "rejected"


class CommandKind(StrEnum):
    """What a person can ask of a running engine (args in Command.args_json)."""

    PAUSE = "pause"
    RESUME = "resume"
    ABORT = "abort"  # the current experiment, now
    PRUNE = "prune"  # {"node": "1.3"}
    UNPRUNE = "unprune"  # {} or {"node": "1.3"}: undo the last prune (of that node)
    PRIORITY = "priority"  # {"node": "1.3", "priority": 2}
    PROMOTE = "promote"  # {"node": "1.3"}: start a new run from it
    STEER = "steer"  # {"goal": "..."} and/or {"hint": "..."}
    BUDGETS = "budgets"  # {"max_experiments": 80, ...}
    STOP = "stop"


class Run(SQLModel, table=True):
    """One run: a root node and the criteria its experiments are judged by."""

    id: int = Field(primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    status: str = Field(default=RunStatus.RUNNING, index=True)
    stop_reason: str | None = None
    goal: str
    config_toml: str
    repo_path: str
    baseline_commit: str
    root_node_id: str
    from_node_id: str | None = None
    tokens_used: int = 0
    # What the engine is doing now, for the TUI's status line and `perfsup status`.
    engine_state: str = "stopped"  # running, paused, waiting, stopped ...
    engine_detail: str = ""  # current step or why it waits, one line
    engine_pid: int | None = None
    heartbeat_at: datetime | None = None


class Node(SQLModel, table=True):
    """One experiment: a change on top of its parent and what it measured."""

    id: str = Field(primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    parent_id: str | None = Field(default=None, foreign_key="node.id", index=True)
    ordinal: int = 0
    depth: int = 0
    status: str = Field(default=NodeStatus.QUEUED, index=True)
    priority: int = 0
    description: str = ""
    rationale: str = ""
    answer_text: str = ""
    diff: str = ""
    diff_hash: str | None = Field(default=None, index=True)
    commit_sha: str | None = None
    branch: str | None = None
    model: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reason: str | None = None
    decision_rule: str | None = None
    effect: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    pairs_used: int | None = None
    threshold: float | None = None  # the minimum effect the decision was held to
    decision_json: str | None = None  # every pass, every metric: the numbers behind it
    analysis: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None


class Sample(SQLModel, table=True):
    """One benchmark measurement of one side of one pair."""

    id: int | None = Field(default=None, primary_key=True)
    node_id: str = Field(foreign_key="node.id", index=True)
    metric: str
    side: str  # "parent" or "candidate"
    pair_index: int
    warmup: bool = False
    value: float
    host: str = ""
    measured_at: datetime = Field(default_factory=utcnow)
    # "decide" (first pass), "verify" (re-verification) or "calibrate" (A/A:
    # node_id is the parent measured against itself; side "a" or "b").
    phase: str = "decide"
    # Host fingerprint at the moment of the measurement.
    cpu_model: str = ""
    cpu_count: int | None = None
    governor: str | None = None  # cpufreq scaling governor, where readable
    load_avg: float | None = None  # 1-minute load average
    on_battery: bool | None = None  # None: no battery


class Calibration(SQLModel, table=True):
    """One A/A calibration of one metric: the noise floor and the threshold it set."""

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    node_id: str = Field(foreign_key="node.id")  # the node measured against itself
    metric: str
    pairs: int
    effect: float
    ci_low: float
    ci_high: float
    noise_floor: float
    threshold: float
    too_noisy: bool = False
    action: str = "ok"  # ok, wait, stop, raise
    created_at: datetime = Field(default_factory=utcnow)


class ModelCall(SQLModel, table=True):
    """One call to the model, with its token use and timings."""

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    node_id: str | None = Field(default=None, foreign_key="node.id", index=True)
    model: str
    attempt: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int | None = None
    ttft_s: float | None = None
    total_s: float | None = None
    prompt_eval_s: float | None = None  # time spent reading the prompt, where known
    answer_limit: int | None = None  # the most tokens the answer could have (the room left)
    truncated: bool = False  # the answer stopped at that limit, not at its end
    ok: bool = True  # False: the call broke off; True with `error`: the answer was unusable
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Event(SQLModel, table=True):
    """An audit log line: what the engine did and what people asked for."""

    id: int | None = Field(default=None, primary_key=True)
    run_id: int | None = Field(default=None, foreign_key="run.id", index=True)
    node_id: str | None = None
    kind: str
    actor: str = "engine"
    message: str
    created_at: datetime = Field(default_factory=utcnow)


class Command(SQLModel, table=True):
    """A request from a person (TUI or `perfsup ctl`) waiting for the engine."""

    id: int | None = Field(default=None, primary_key=True)
    kind: str
    args_json: str = "{}"
    status: str = Field(default=CommandStatus.PENDING, index=True)
    result: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    handled_at: datetime | None = None


class Artifact(SQLModel, table=True):
    """A file that belongs to a node: a step's log, a profile, a report."""

    id: int | None = Field(default=None, primary_key=True)
    node_id: str = Field(foreign_key="node.id", index=True)
    kind: str  # "log" or "profile" ...
    step: str  # "agent", "build", "check", "bench", ...
    path: str
    created_at: datetime = Field(default_factory=utcnow)
