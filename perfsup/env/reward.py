"""The reward of a step that changes code: perfsup's own decision rule.

The episode's current tree is benchmarked against its baseline in
interleaved, randomised pairs (workspace/pairs.py, the engine's pair loop)
and judged by keep rule v3 at each look (metrics/keep_rule.py), a winner
re-verified on fresh pairs and held to the pooled estimate (`confirm`),
exactly as the engine judges a node against its parent.

The measured standing of the tree is the primary metric's effect when the
rule says better (and the guards let it keep) or worse, and 0 on a tie. The
reward of the step is the change of that standing since the last measured
step, so an episode's rewards add up to the final tree's decided effect
against the baseline: repeating a change, or a change the rule cannot tell
from noise, earns nothing (docs/decisions/0270).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from perfsup.config import Config
from perfsup.metrics.keep_rule import confirm, judge_look
from perfsup.metrics.sequential import Plan, default_looks
from perfsup.metrics.stats import Decision
from perfsup.workspace.executor import Executor
from perfsup.workspace.pairs import CANDIDATE, PARENT, BenchOutcome, run_pairs

__all__ = ["MeasureFailed", "Standing", "measure_standing"]


@dataclass(frozen=True)
class Standing:
    """The current tree against the baseline, as the rule decided it."""

    verdict: str  # better, worse or tie (the primary metric, guards applied)
    value: float  # the standing: the effect when better or worse, 0 on a tie
    effect: float  # the primary metric's estimate, whatever the verdict
    low: float  # its confidence interval
    high: float
    pairs: int
    reason: str
    analysis: str
    means: dict[str, tuple[float, float]]  # metric -> (baseline, current) means


class MeasureFailed(Exception):
    """A side's benchmark crashed, timed out or printed no metric; str is one line."""


def _plan(config: Config) -> Plan:
    decision = config.decision
    looks = tuple(decision.looks) or default_looks(config.bench.pairs, config.max_pairs)
    return Plan(
        looks,
        decision.alpha,
        spending=decision.spending,
        base_pairs=min(config.bench.pairs, looks[-1]),
        near=decision.near,
    )


def measure_standing(
    *,
    config: Config,
    executor: Executor,
    env: dict[str, str],
    baseline: Path,
    current: Path,
    log: Path,
    rng: random.Random,
) -> Standing:
    """Judge `current` against `baseline` (both built); MeasureFailed when a run fails."""
    plan = _plan(config)
    thresholds = {m.name: config.decision.min_effect for m in config.metrics}
    first, outcome = _pass(config, plan, executor, env, baseline, current, log, rng, thresholds)
    final = first
    if first.keep and config.decision.reverify:
        zero = {name: 0.0 for name in thresholds}
        again, more = _pass(config, plan, executor, env, baseline, current, log, rng, zero, 0)
        final = confirm(first, again, config.metrics, thresholds)
        for name, (base, cand) in more.pairs.items():
            outcome.pairs[name][0].extend(base)
            outcome.pairs[name][1].extend(cand)
    primary = final.per_metric[0]
    if final.keep:
        verdict = "better"
    elif primary.verdict == "worse":
        verdict = "worse"
    else:
        verdict = "tie"
    means = {
        name: (sum(base) / len(base), sum(cand) / len(cand))
        for name, (base, cand) in outcome.pairs.items()
        if base and cand
    }
    return Standing(
        verdict=verdict,
        value=0.0 if verdict == "tie" else primary.effect,
        effect=primary.effect,
        low=primary.ci_low,
        high=primary.ci_high,
        pairs=sum(m.pairs for m in final.per_metric[:1]),
        reason=final.reason,
        analysis=", ".join(
            f"{m.metric} {m.verdict} {m.effect:+.2%} (CI {m.ci_low:+.2%}..{m.ci_high:+.2%}, "
            f"{m.pairs} pairs)"
            for m in final.per_metric
        ),
        means=means,
    )


def _pass(
    config: Config,
    plan: Plan,
    executor: Executor,
    env: dict[str, str],
    baseline: Path,
    current: Path,
    log: Path,
    rng: random.Random,
    thresholds: dict[str, float],
    warmup: int | None = None,
) -> tuple[Decision, BenchOutcome]:
    """One sequential pass, as engine/measure.py runs it."""
    found: list[Decision] = []
    looks = set(plan.looks)

    def judge_now(outcome: BenchOutcome, final: bool) -> bool:
        look = judge_look(
            outcome.pairs,
            config.metrics,
            thresholds,
            plan,
            final=final,
            tolerance=config.decision.guard_tolerance,
            lexicographic=config.decision.lexicographic,
        )
        if look.stop:
            found.append(look.decision)
        return look.stop

    def after_pair(outcome: BenchOutcome) -> bool:
        n = outcome.pairs_done
        return n in looks and judge_now(outcome, final=n == plan.max_pairs)

    try:
        outcome = _run(config, executor, env, baseline, current, log, rng, plan, warmup, after_pair)
        if outcome.failure is None and not found:
            judge_now(outcome, final=True)
    except ValueError as exc:  # e.g. a zero on the log-ratio scale
        raise MeasureFailed(f"cannot decide on these samples: {exc}") from None
    if outcome.failure is not None:
        raise MeasureFailed(outcome.failure[1].replace("the parent's", "the baseline's"))
    return found[-1], outcome


def _run(
    config: Config,
    executor: Executor,
    env: dict[str, str],
    baseline: Path,
    current: Path,
    log: Path,
    rng: random.Random,
    plan: Plan,
    warmup: int | None,
    after_pair: Callable[[BenchOutcome], bool],
) -> BenchOutcome:
    return run_pairs(
        executor=executor,
        command=config.bench.run,
        timeout_s=config.bench.timeout_s,
        metrics=config.metrics,
        dirs={PARENT: baseline, CANDIDATE: current},
        log_path=log,
        env=env,
        rng=rng,
        sink=lambda *_: None,
        pairs=plan.max_pairs,
        warmup=config.bench.warmup if warmup is None else warmup,
        after_pair=after_pair,
    )
