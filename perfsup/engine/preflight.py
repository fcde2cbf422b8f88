"""Preflight: prove the night can work before the model is asked anything.

In order, cheapest and most likely to fail first: the model answers (Ollama
reachable with the model pulled, the GGUF loads, an OpenAI-compatible server
lists the model, the answer file parses);
then, on a worktree of the baseline commit, the build and the check pass and
the bench runs a few times, printing every configured metric as a finite
positive number. The runs come in A/A pairs (the baseline against itself), so
they also say how noisy the bench is: the noise floor at the configured pairs,
set against `min_effect` (see `perfsup.metrics.calibration`).

Any failure raises `PreflightFailed` with one line naming the command, what
was expected and what came out. Noise is never a failure here: the engine's
own A/A calibration decides what to do about it (`decision.on_noise`); the
report says in advance what that will be and what would help.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from perfsup.agent.backend import Checkable, ModelBackend, ModelUnavailable
from perfsup.config import CommandSpec, Config, MetricSpec
from perfsup.engine.night import NIGHT_S
from perfsup.engine.pacing import deadline_after
from perfsup.metrics.calibration import calibrate, noise_floor_logs
from perfsup.metrics.collect import collect_metrics
from perfsup.metrics.errors import MetricParseError
from perfsup.metrics.parsers.callgrind import wrap_command
from perfsup.metrics.scales import metric_gains, resolve_scale
from perfsup.metrics.sequential import default_looks
from perfsup.workspace.executor import Executor
from perfsup.workspace.git import GitWorkspace
from perfsup.workspace.ignored import ignored_sources
from perfsup.workspace.logcap import telling_line

#: A/A pairs the preflight runs: enough for a first reading of the noise, few
#: enough that a good bench costs seconds (the engine calibrates again).
PREFLIGHT_PAIRS = 5
#: Fewest pairs with which the signed-rank test can reach alpha = 0.05 at all.
MIN_PAIRS = 6
MAX_PAIRS = 1000
WORKTREE = "preflight"


class PreflightFailed(Exception):
    """The run cannot work as configured; the message is one line saying why."""


@dataclass(frozen=True)
class StepRun:
    step: str
    command: str
    seconds: float


@dataclass(frozen=True)
class MetricNoise:
    """What the A/A runs of the baseline say about one metric."""

    spec: MetricSpec
    values: list[float]
    noise_floor: float  # smallest effect the configured pairs can tell from noise
    threshold: float  # max(min_effect, noise_floor): what a change will have to reach
    pairs_needed: int  # pairs at which the noise floor would be min_effect
    too_noisy: bool  # noise_floor > min_effect: the threshold will be raised


@dataclass
class PreflightReport:
    baseline: str
    model: str
    max_pairs: int
    steps: list[StepRun] = field(default_factory=list)
    bench_s: float = 0.0  # one bench run, median
    metrics: list[MetricNoise] = field(default_factory=list)
    experiment_s: float = 0.0  # build + check + warm-ups + every pair, without the model
    night_s: float = NIGHT_S
    night_label: str = "8 h"

    @property
    def experiments_in_night(self) -> int:
        return int(self.night_s // self.experiment_s) if self.experiment_s > 0 else 0

    @property
    def too_noisy(self) -> list[MetricNoise]:
        return [m for m in self.metrics if m.too_noisy]


def check_model(backend: ModelBackend) -> str:
    """What was checked of the model, spending no tokens; PreflightFailed if it cannot answer."""
    if not isinstance(backend, Checkable):
        return f"{backend.name} (not checked: this backend cannot be asked without a call)"
    try:
        return backend.ready()
    except ModelUnavailable as exc:
        raise PreflightFailed(f"model {backend.name}: {exc}") from None


def run_preflight(
    *,
    config: Config,
    git: GitWorkspace,
    baseline: str,
    executor: Executor,
    env: dict[str, str],
    log_dir: Path,
    backend: ModelBackend | None,
    report: Callable[[str], None] = print,
    now: datetime | None = None,
) -> PreflightReport:
    """Check the model, then build, check and bench the baseline; see the module docstring."""
    looks = tuple(config.decision.looks) or default_looks(config.bench.pairs)
    result = PreflightReport(baseline=baseline, model="", max_pairs=looks[-1])
    if backend is None:  # `perfsup init`: the model is `perfsup check`'s business
        result.model = "not checked"
    else:
        result.model = check_model(backend)
        report(f"preflight: model ok: {result.model}")
    for step in ("build", "check", "bench"):  # the logs of the last preflight only
        (log_dir / f"{step}.log").unlink(missing_ok=True)
    workdir = git.add_worktree(WORKTREE, baseline)
    try:
        for step, spec in (("build", config.build), ("check", config.check)):
            if spec is not None:
                result.steps.append(
                    _run_step(step, spec, executor, workdir, env, log_dir, git.repo_path)
                )
                report(f"preflight: {step} ok in {result.steps[-1].seconds:.1f} s")
        samples, bench_times = _bench_runs(config, executor, workdir, env, log_dir, report)
    finally:
        git.remove_worktree(workdir)
    result.bench_s = statistics.median(bench_times)
    result.steps.append(StepRun("bench", config.bench.run, result.bench_s))
    result.metrics = [
        _noise(config, spec, samples[spec.name], result.max_pairs) for spec in config.metrics
    ]
    prepare = sum(s.seconds for s in result.steps if s.step != "bench")
    runs = 2 * (config.bench.warmup + result.max_pairs)
    result.experiment_s = prepare + runs * result.bench_s
    deadline = deadline_after(config.budgets, now or datetime.now())
    if deadline is not None:
        result.night_s = max(0.0, (deadline - (now or datetime.now())).total_seconds())
        result.night_label = f"the time left until {deadline:%H:%M}"
    return result


def _run_step(
    step: str,
    spec: CommandSpec,
    executor: Executor,
    workdir: Path,
    env: dict[str, str],
    logs: Path,
    repo: Path,
) -> StepRun:
    log = logs / f"{step}.log"
    started = time.monotonic()
    done = executor.run(spec.run, workdir, log, spec.timeout_s, env=env)
    seconds = time.monotonic() - started
    if done.timed_out:
        raise PreflightFailed(
            f"{step} `{spec.run}` on the baseline did not finish within {spec.timeout_s:g} s "
            f"(expected it to end; raise {step}.timeout_s or make it faster); log {log}"
        )
    if done.exit_code != 0:
        raise PreflightFailed(
            f"{step} `{spec.run}` on the baseline exited with status {done.exit_code} "
            f"(expected 0); it printed: {printed_line(log)}; log {log}{_clean_checkout_note(repo)}"
        )
    return StepRun(step, spec.run, seconds)


def _clean_checkout_note(repo: Path) -> str:
    """Why a step that works in the person's checkout may fail in ours, when it may."""
    missing = ignored_sources(repo)
    if not missing:
        return ""
    return (
        f"; note: experiments start from a clean checkout of the commit, without files git "
        f"ignores, and your checkout has {', '.join(missing)} (ignored by git): "
        "generate it in [build] or commit it"
    )


def _bench_runs(
    config: Config,
    executor: Executor,
    workdir: Path,
    env: dict[str, str],
    logs: Path,
    report: Callable[[str], None],
) -> tuple[dict[str, list[float]], list[float]]:
    """Warm-ups, then 2 * PREFLIGHT_PAIRS runs: every metric's values, and the run times."""
    bench = config.bench
    log = logs / "bench.log"
    wrap_callgrind = any(m.source == "callgrind" and not m.path for m in config.metrics)
    values: dict[str, list[float]] = {m.name: [] for m in config.metrics}
    seconds: list[float] = []
    total = bench.warmup + 2 * PREFLIGHT_PAIRS
    report(f"preflight: running the bench {total} times on the baseline")
    for index in range(total):
        started = time.monotonic()
        done = executor.run(bench.run, workdir, log, bench.timeout_s, env=env)
        elapsed = time.monotonic() - started
        where = f"bench `{bench.run}` (run {index + 1} of {total} on the baseline)"
        if done.timed_out:
            raise PreflightFailed(
                f"{where} did not finish within {bench.timeout_s:g} s "
                "(expected it to end; raise bench.timeout_s or make it shorter)"
            )
        if done.exit_code != 0:
            raise PreflightFailed(
                f"{where} exited with status {done.exit_code} (expected 0); "
                f"it printed: {printed_line(log)}; log {log}"
            )
        if wrap_callgrind:
            counted = executor.run(wrap_command(bench.run), workdir, log, bench.timeout_s, env=env)
            if counted.exit_code != 0:
                raise PreflightFailed(
                    f"{where} under callgrind exited with status {counted.exit_code} "
                    f"(expected 0); log {log}"
                )
        try:
            got = collect_metrics(done.stdout, workdir, config.metrics)
        except MetricParseError as exc:
            raise PreflightFailed(f"{where}: {exc}; it printed: {printed_line(log)}") from None
        for spec in config.metrics:
            value = got[spec.name]
            if resolve_scale(spec) == "diff":  # a count: zero is a value (allocs/op 0)
                if not (math.isfinite(value) and value >= 0):
                    raise PreflightFailed(
                        f"{where}: metric {spec.name!r} is {value!r}; expected a finite count "
                        "of zero or more"
                    )
            elif not (math.isfinite(value) and value > 0):
                raise PreflightFailed(
                    f"{where}: metric {spec.name!r} is {value!r}; expected a finite positive "
                    "number (compared as a ratio; for a count with a natural zero set "
                    'scale = "diff" on this metric)'
                )
            if index >= bench.warmup:
                values[spec.name].append(value)
        if index >= bench.warmup:
            seconds.append(elapsed)
    return values, seconds


def _noise(config: Config, spec: MetricSpec, values: list[float], max_pairs: int) -> MetricNoise:
    """Noise floor at `max_pairs` from consecutive runs taken as A/A pairs."""
    decision = config.decision
    first, second = values[0::2], values[1::2]
    gains = metric_gains(spec, first, second)
    calib = calibrate(
        spec.name, gains, spec.direction, decision.min_effect, decision.alpha, max_pairs
    )
    half_here = float(noise_floor_logs(gains, decision.alpha, len(gains))[0])
    return MetricNoise(
        spec=spec,
        values=values,
        noise_floor=calib.noise_floor,
        threshold=calib.threshold,
        pairs_needed=pairs_for(half_here, len(gains), decision.min_effect),
        too_noisy=calib.too_noisy,
    )


def floor_at(metric: MetricNoise, measured_at: int, pairs: int) -> float:
    """The noise floor of `metric`, measured at `measured_at` pairs, rescaled to `pairs`."""
    return math.expm1(math.log1p(metric.noise_floor) * math.sqrt(measured_at / pairs))


def pairs_for(half_log: float, pairs: int, min_effect: float) -> int:
    """Pairs at which a noise half-width `half_log` measured at `pairs` shrinks to min_effect.

    Interval widths shrink like 1/sqrt(pairs); never fewer than MIN_PAIRS.
    """
    if half_log <= 0:
        return MIN_PAIRS
    if min_effect <= 0:
        return MAX_PAIRS
    needed = math.ceil(pairs * (half_log / math.log1p(min_effect)) ** 2)
    return max(MIN_PAIRS, min(MAX_PAIRS, needed))


def printed_line(log: Path) -> str:
    """The line of a command's log that says why it failed, quoted and shortened.
    A METRIC line says less than an error message: it counts only when alone."""
    try:
        line = telling_line(log, quiet=("METRIC ",))
    except OSError:
        return "(no output)"
    return repr(line[:200]) if line else "nothing"
