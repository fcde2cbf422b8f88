"""The configuration schema: one pydantic model per TOML table.

Every model forbids unknown keys, so a typo fails loudly instead of being
silently ignored overnight. Paths stay as written here; `load.py` resolves
them against the config file's folder and checks that they exist.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, time
from typing import Literal

from pydantic import Field, field_validator, model_validator

from perfsup.config.strict import _Strict
from perfsup.config.where import ExecutorSettings, SandboxSettings


class TargetSettings(_Strict):
    """Which repository to optimise and from which commit."""

    repo: str = Field(".", description="local path or git URL of the target repository")
    base: str = Field("HEAD", description="commit, branch or tag the baseline is taken from")
    goal: str = Field(..., min_length=1, description="what to make faster, in words")
    hints: list[str] = Field(default_factory=list, description="extra advice for every prompt")
    venv: str | None = Field(
        None,
        description="the target's virtualenv (relative to the repository, or absolute): build, "
        "check and bench run with its bin first on PATH and `python` its interpreter; "
        "none: perfsup's own interpreter",
    )
    path: list[str] = Field(
        default_factory=list,
        description="folders put first on PATH for build, check and bench (relative to the "
        "repository, or absolute), after the virtualenv's bin",
    )


class CommandSpec(_Strict):
    """A shell command run inside an experiment's worktree."""

    run: str = Field(..., min_length=1)
    timeout_s: float = Field(600.0, gt=0)


class BenchSettings(CommandSpec):
    """The benchmark command and how many times it is run per decision."""

    pairs: int = Field(
        20,
        ge=1,
        le=1000,
        description="interleaved parent/candidate pairs of one pass (more, up to "
        "decision.max_pairs, when the estimate sits near the threshold)",
    )
    warmup: int = Field(1, ge=0, le=100, description="uncounted runs of each side first")
    held_out: str | None = Field(
        None,
        description="a benchmark command the model never sees, run only in the end-of-night "
        "confirmation (same metrics), so overfitting to the benchmark shows",
    )
    layout: Literal["none", "rebuild", "env-pad"] = Field(
        "none",
        description="compiled targets: randomise code layout per run -- rebuild before every "
        "run with a fresh PERFSUP_LAYOUT_SEED, or pad the environment; none: as is",
    )


class MetricSpec(_Strict):
    """One metric; the list order in the config is the priority order."""

    name: str = Field(..., min_length=1, pattern=r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
    unit: str = ""
    direction: Literal["lower", "higher"] = "lower"
    source: Literal[
        "metric_lines",
        "csv",
        "go_bench",
        "hyperfine",
        "pyperf",
        "pytest_benchmark",
        "perf_stat",
        "callgrind",
    ] = "metric_lines"
    csv_path: str | None = Field(None, description="CSV file (relative to the worktree)")
    path: str | None = Field(
        None, description="output file of the tool (relative to the worktree); none: stdout"
    )
    select: str | None = Field(
        None, description="which benchmark, command or event; none: the first one"
    )
    field: str | None = Field(None, description="which unit or statistic; none: the default")
    scale: Literal["auto", "log", "diff"] = Field(
        "auto",
        description="compare pairs as log ratios or as differences relative to the parent "
        "(for counts with a natural zero, e.g. allocs/op); auto: diff for allocation counts",
    )
    tolerance: float | None = Field(
        None,
        ge=0.0,
        lt=1.0,
        description="as a guard (not the first metric): the regression tolerated; "
        "none: [decision] guard_tolerance",
    )

    @model_validator(mode="after")
    def _csv_needs_path(self) -> MetricSpec:
        if self.source == "csv" and not self.csv_path:
            raise ValueError("source = 'csv' needs csv_path")
        if self.source in ("hyperfine", "pyperf", "pytest_benchmark") and not self.path:
            raise ValueError(f"source = '{self.source}' needs path (the JSON file it writes)")
        return self


class AccessRules(_Strict):
    """Which files the model may see and change."""

    writable: list[str] = Field(..., min_length=1)
    protected: list[str] = Field(default_factory=list)
    hidden: list[str] = Field(default_factory=list)


class ModelSettings(_Strict):
    """Which model proposes changes."""

    # "flags": no model; the experiments are the build flag sets of [flags]
    backend: Literal["scripted", "ollama", "llama", "openai", "flags"] = "scripted"
    name: str = ""
    host: str = "http://127.0.0.1:11434"
    base_url: str | None = Field(
        None,
        description="openai: the server's OpenAI-compatible API root, e.g. "
        "http://127.0.0.1:8080/v1",
    )
    api_key_env: str | None = Field(
        None,
        description="openai: the name of the environment variable that holds the API key "
        "(the key itself is never written in the config)",
    )
    gguf_path: str | None = None
    script: str | None = Field(None, description="answer file for the scripted backend")
    context_tokens: int = Field(8192, ge=512)
    max_answer_tokens: int = Field(2048, ge=64)
    max_answer_kb: int | None = Field(
        None, ge=1, description="longest answer parsed, KiB; none: max(64, answer tokens / 64)"
    )
    max_answer_line_chars: int = Field(
        4000, ge=80, description="longest line of an answer parsed, in characters"
    )
    temperature: float = Field(0.2, ge=0.0, le=2.0)
    edit_format: Literal["auto", "search_replace", "region"] = "auto"
    max_retries: int = Field(2, ge=0, le=10)
    keep_alive: str = Field(
        "30m", pattern=r"^-?[0-9]+(ms|s|m|h)?$", description="how long Ollama keeps the model"
    )
    unload_before_bench: bool = Field(False, description="free the model before benchmarks")
    grammar_retry: bool = Field(True, description="llama, openai: constrain retries with a grammar")
    threads: int | None = Field(None, ge=1, description="llama: CPU threads (default: all)")

    @model_validator(mode="after")
    def _backend_needs(self) -> ModelSettings:
        if self.backend == "scripted" and not self.script:
            raise ValueError("backend = 'scripted' needs script (a path to an answer file)")
        if self.backend == "llama" and not self.gguf_path:
            raise ValueError("backend = 'llama' needs gguf_path")
        if self.backend == "ollama" and not self.name:
            raise ValueError("backend = 'ollama' needs name (for example 'qwen2.5-coder:7b')")
        if self.backend == "openai" and not self.base_url:
            raise ValueError(
                "backend = 'openai' needs base_url (for example 'http://127.0.0.1:8080/v1')"
            )
        return self

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", url):
            raise ValueError(
                "expected an http:// or https:// address of the API root, "
                "like http://127.0.0.1:8080/v1"
            )
        return url

    @field_validator("api_key_env")
    @classmethod
    def _names_a_variable(cls, name: str | None) -> str | None:
        # a pasted key (sk-..., with dashes) is refused here; the loader hides the value
        if name is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(
                "expected the name of an environment variable (like OPENAI_API_KEY) that "
                "holds the key, not the key itself"
            )
        if name is not None and name.startswith("PERFSUP_"):
            # the sandbox passes PERFSUP_* variables to every command: a key there would leak
            raise ValueError(
                "expected a variable whose name does not start with PERFSUP_ (those reach "
                "build, check and bench commands)"
            )
        return name


class Budgets(_Strict):
    """When the run ends by itself."""

    max_experiments: int = Field(50, ge=1)
    max_tokens: int = Field(2_000_000, ge=1)
    calls_per_hour: int = Field(120, ge=1)
    min_call_interval_s: float = Field(0.0, ge=0.0, description="seconds between model calls")
    deadline: datetime | time | None = Field(
        None, description="stop at this local time (07:00) or date-time"
    )
    max_depth: int = Field(12, ge=1)
    max_children: int = Field(8, ge=1)
    max_failures_in_a_row: int = Field(
        4, ge=1, description="failed changes in a row closing a node (never the last open one)"
    )
    pause_after_failures: int = Field(
        10, ge=1, description="pause after this many failed experiments in a row"
    )
    explore: float = Field(
        0.1, ge=0.0, le=1.0, description="share of experiments on a random node, not the best"
    )


class DecisionSettings(_Strict):
    """How sure perfsup must be before it keeps a change."""

    min_effect: float = Field(0.02, ge=0.0, lt=1.0, description="smallest relative gain kept")
    alpha: float = Field(0.05, gt=0.0, lt=0.5)
    looks: list[int] = Field(
        default_factory=list,
        description="pair counts at which to look; [] = 6, 10, 14, ... up to bench.pairs",
    )
    reverify: bool = Field(True, description="confirm a winner on fresh pairs before keeping it")
    calibration_pairs: int = Field(10, ge=0, le=200, description="A/A pairs; 0 = no calibration")
    recalibrate_hours: float = Field(3.0, gt=0.0)
    on_noise: Literal["extend", "wait", "stop", "raise"] = Field(
        "extend",
        description="when A/A noise hides min_effect with bench.pairs: use more pairs (up to "
        "max_pairs), wait, stop, or raise the threshold",
    )
    spending: Literal["pocock", "obrien-fleming"] = Field(
        "pocock", description="how alpha is spent over the looks (Lan-DeMets spending function)"
    )
    max_pairs: int = Field(
        0,
        ge=0,
        le=2000,
        description="most pairs of one pass, when the estimate sits near the threshold or the "
        "noise needs them; 0 = twice bench.pairs",
    )
    near: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="past bench.pairs, go on while the estimate is within this share of the "
        "threshold below it",
    )
    guard_tolerance: float = Field(
        0.03, ge=0.0, lt=1.0, description="regression tolerated on a guard (not the first) metric"
    )
    lexicographic: bool = Field(
        False,
        description="a tie on the first metric, shown not worse, lets the next metric decide",
    )
    confirm_at_end: bool = Field(
        True,
        description="when a run ends, benchmark its best node against the baseline on fresh "
        "builds (and on bench.held_out)",
    )
    calibration_retries: int = Field(
        2, ge=0, le=10, description="A/A calibrations retried after a failed one"
    )
    wait_s: float = Field(300.0, gt=0.0, description="how long one wait of the guards lasts")
    max_wait_s: float = Field(3600.0, ge=0.0, description="waiting longer than this goes on")
    max_load_per_core: float = Field(
        0.0, ge=0.0, description="load average per core above which benchmarks wait; 0 = off"
    )
    wait_on_battery: bool = True

    @field_validator("looks")
    @classmethod
    def _increasing_looks(cls, looks: list[int]) -> list[int]:
        if looks and (looks != sorted(set(looks)) or looks[0] < 3):
            raise ValueError(f"looks must be increasing pair counts of at least 3, got {looks}")
        return looks


class ProfileSettings(_Strict):
    """Profiles of each parent node, stored as artifacts for the model's context."""

    python_script: str | None = Field(
        None, description="script (and arguments) to run under cProfile, e.g. 'bench.py'"
    )
    go_escape: str | None = Field(
        None, description="packages for `go build -gcflags=-m`, e.g. './...'"
    )
    go_pprof: str | None = Field(
        None,
        description="packages whose benchmarks run under `go test -bench . -cpuprofile` "
        "(one profile per package, merged by `go tool pprof`), e.g. './...'",
    )
    go_benchtime: str = Field(
        "1s",
        pattern=r"^[0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h|x)$",
        description="`-benchtime` of each benchmark profiled for go_pprof, e.g. '1s' or '100x'",
    )
    top: int = Field(20, ge=1, le=500, description="functions kept from a profile")
    timeout_s: float = Field(600.0, gt=0)


class RunSettings(_Strict):
    """Where the run's store, logs and worktrees live."""

    dir: str | None = Field(None, description="run directory; default outside the repository")
    keep_worktrees: Literal["none", "kept", "all"] = "kept"
    max_disk_mb: int = Field(0, ge=0, description="worktrees + logs limit, MiB (0: none)")
    min_free_mb: int = Field(1024, ge=0, description="pause when the disk has less free, MiB")
    max_log_mb: int = Field(
        8, ge=1, description="each step's log keeps its first and last MiB within this"
    )


class FlagsSettings(_Strict):
    """Build flag sets tried as experiments (`perfsup run --flags-only`)."""

    sets: list[dict[str, str]] = Field(
        default_factory=list,
        description="flag sets, e.g. {gcflags = '-B'} or {opt_level = '3', lto = 'true'}; "
        "empty: a default list for the target's language",
    )


class TuiSettings(_Strict):
    """Look and keys of the TUI."""

    theme: str | None = None
    keys: dict[str, str] = Field(default_factory=dict)


class Config(_Strict):
    """A whole perfsup.toml."""

    target: TargetSettings
    build: CommandSpec | None = None
    check: CommandSpec | None = None
    bench: BenchSettings
    metrics: list[MetricSpec] = Field(..., min_length=1)
    access: AccessRules
    model: ModelSettings
    budgets: Budgets = Budgets()
    decision: DecisionSettings = DecisionSettings()
    profile: ProfileSettings = ProfileSettings()
    run: RunSettings = RunSettings()
    sandbox: SandboxSettings = SandboxSettings()
    executor: ExecutorSettings = ExecutorSettings()
    tui: TuiSettings = TuiSettings()
    flags: FlagsSettings = FlagsSettings()

    @field_validator("metrics")
    @classmethod
    def _unique_metric_names(cls, metrics: list[MetricSpec]) -> list[MetricSpec]:
        names = [m.name for m in metrics]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"metric names must be unique, repeated: {', '.join(dupes)}")
        return metrics

    @model_validator(mode="after")
    def _looks_within_pairs(self) -> Config:
        looks = self.decision.looks
        most = max(self.bench.pairs, self.decision.max_pairs)
        if looks and looks[-1] > most:
            raise ValueError(
                f"decision.looks goes to {looks[-1]} pairs but bench.pairs is {self.bench.pairs} "
                f"and decision.max_pairs {self.decision.max_pairs}; expected every look at or "
                "below the larger of the two"
            )
        return self

    @model_validator(mode="after")
    def _rebuild_needs_a_build(self) -> Config:
        if self.bench.layout == "rebuild" and self.build is None:
            raise ValueError(
                'bench.layout = "rebuild" needs a [build] command to run before every '
                'benchmark run; expected a [build] table or layout = "env-pad"'
            )
        return self

    @model_validator(mode="after")
    def _pairs_can_reach_alpha(self) -> Config:
        if self.decision.max_pairs and self.decision.max_pairs < self.bench.pairs:
            raise ValueError(
                f"decision.max_pairs = {self.decision.max_pairs} is below bench.pairs = "
                f"{self.bench.pairs}; expected 0 (twice bench.pairs) or at least bench.pairs"
            )
        # n pairs cannot give a one-sided signed-rank p below 1 / 2**n: a pass
        # that can never reach alpha can never keep anything.
        alpha = self.decision.alpha
        least = max(1, math.floor(math.log2(1.0 / alpha)) + 1)
        most = self.max_pairs
        if most < least:
            raise ValueError(
                f"bench.pairs = {self.bench.pairs} (at most {most} pairs per pass with "
                f"decision.max_pairs) can never reach decision.alpha = {alpha:g}: the smallest "
                f"possible p-value of {most} pairs is 1/{2**most}; expected at least {least} "
                "pairs per pass"
            )
        return self

    @property
    def max_pairs(self) -> int:
        """The most pairs of one pass, the extension near the threshold included."""
        return self.decision.max_pairs or 2 * self.bench.pairs

    @property
    def primary_metric(self) -> MetricSpec:
        return self.metrics[0]
