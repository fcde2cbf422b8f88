"""The environment's Action, Observation and State: OpenEnv's pydantic types.

One action type with a `kind`, so a client (or a trainer's tool call) names
what to do and fills the fields that kind reads; the others keep their
defaults.
"""

from __future__ import annotations

from typing import Any, Literal

from openenv.core.env_server.types import Action, Observation, State
from pydantic import Field

__all__ = ["ACTION_KINDS", "ActionKind", "PerfAction", "PerfObservation", "PerfState"]

ActionKind = Literal[
    "git", "benchmarks", "tests", "build_flags", "escape_analysis", "perf", "patch"
]
ACTION_KINDS: tuple[str, ...] = ActionKind.__args__  # type: ignore[attr-defined]


class PerfAction(Action):
    """One step of an episode."""

    kind: ActionKind
    # git: the arguments after `git` (read and local commands only, see actions.py)
    args: list[str] = Field(default_factory=list, max_length=64)
    # benchmarks and perf: which benchmarks (Go: the -bench pattern) and how
    suite: str = Field(".", max_length=200)
    benchmem: bool = True
    benchtime: str = Field("100ms", pattern=r"^[0-9]+(x|ns|us|ms|s)$")
    count: int = Field(1, ge=1, le=20)
    timeout_s: float = Field(300.0, gt=0, le=3600)
    # build_flags: a flag set (keys in workspace/buildflags.FLAG_KEYS); {} resets
    flags: dict[str, str] = Field(default_factory=dict)
    # perf: stat, mem, c2c (hardware counters where the machine has them) or callgrind
    mode: Literal["stat", "mem", "c2c", "callgrind"] = "stat"
    # escape_analysis: the Go package pattern
    package: str = Field(".", pattern=r"^[A-Za-z0-9_./-]+$")
    # patch: perfsup's edit format (SEARCH/REPLACE blocks under file names)
    patch: str = Field("", max_length=200_000)


class PerfObservation(Observation):
    """What the agent sees after a step (reward and done are OpenEnv's own fields)."""

    action: str = ""
    message: str = ""  # one line: what happened
    stdout: str = ""
    stderr: str = ""
    exit_code: int | None = None
    git_status: str = ""
    goal: str = ""
    step: int = 0
    remaining: int = 0
    bench_summary: dict[str, dict[str, float]] = Field(default_factory=dict)
    comparison: str = ""  # the benchmarks against the baseline, benchstat-style
    test_failures: list[str] = Field(default_factory=list)
    escape_summary: str = ""
    perf_summary: str = ""
    verdict: str = ""  # better, worse, tie, rejected, failed; "" when nothing was judged
    effect: float | None = None  # the primary metric's effect against the baseline
    reward_interval: list[float] | None = None  # its confidence interval [low, high]
    command_s: float = 0.0  # seconds the step's commands ran (the rest is overhead)


class PerfState(State):
    """The episode as the server keeps it."""

    task: str = ""
    goal: str = ""
    commit: str = ""
    budget: int = 0
    remaining: int = 0
    baseline_metrics: dict[str, float] = Field(default_factory=dict)
    current_metrics: dict[str, float] = Field(default_factory=dict)
    history: list[dict[str, Any]] = Field(default_factory=list)
    rewards: list[float] = Field(default_factory=list)
    credited: float = 0.0  # the effect against the baseline already paid out
    build_flags: dict[str, str] = Field(default_factory=dict)
    artifacts: dict[str, str] = Field(default_factory=dict)
