"""Measurement for the engine: A/A calibration, the noise guard, the sequential
decision with re-verification, and samples stored with the host fingerprint.

The loop calls three things:
- `calibrate(run_id, node, workdir)` at run start and `due()` to know when to
  calibrate again (every `recalibrate_hours`);
- `judge(node, dirs, log)` to benchmark a candidate against its parent with the
  sequential rule and, for a winner, a second pass on fresh pairs.
The noise guard answers a too-noisy calibration as configured (wait, stop,
raise) and the host guard waits while the machine is on battery or loaded.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

# The engine judges every experiment with SciPy, which metrics/ imports only where
# it computes (so the TUI never loads it): load it with the engine, once, rather
# than inside the first experiment.
import scipy.stats  # noqa: F401
from sqlalchemy import insert

from perfsup.config import Config
from perfsup.engine.calibration_steps import CalibrationSteps, GuardStop
from perfsup.engine.clock import Clock
from perfsup.engine.host import Fingerprint, busy_reason, fingerprint
from perfsup.engine.layout import layout_bench
from perfsup.metrics.keep_rule import confirm, judge_look
from perfsup.metrics.record import DecisionRecord, PassRecord
from perfsup.metrics.sequential import Plan, default_looks
from perfsup.metrics.stats import Decision, MetricDecision
from perfsup.metrics.threshold_explain import NoiseFacts, explain_below
from perfsup.store import (
    EngineState,
    EventKind,
    Node,
    NodeStatus,
    Run,
    Sample,
    Store,
)
from perfsup.store.models import utcnow
from perfsup.store.tree import record_event
from perfsup.workspace.executor import Executor
from perfsup.workspace.pairs import BenchOutcome, run_pairs

__all__ = ["GuardStop", "Judgement", "Measurer", "decision_json"]

# Longest a measured sample waits in memory before it is written to the store.
SAMPLE_FLUSH_S = 1.0


@dataclass
class Judgement:
    """The outcome of benchmarking one candidate."""

    failure: tuple[NodeStatus, str] | None = None
    keep: bool = False
    reason: str = ""
    recorded: MetricDecision | None = None  # primary metric, re-verified pass if any
    rule: str = ""
    passes: list[PassRecord] = field(default_factory=list)
    analysis: str = ""
    pairs_used: int = 0  # counted pairs of every pass


class Measurer(CalibrationSteps):
    """Everything the engine measures, and the thresholds that calibration set."""

    def __init__(
        self,
        *,
        config: Config,
        store: Store,
        executor: Executor,
        env: dict[str, str],
        rng: random.Random,
        clock: Clock,
        report: Callable[[str], None],
        host: str,
        set_state: Callable[[EngineState, str], None] | None = None,
        pairs_fn: Callable[..., BenchOutcome] = run_pairs,
        where: Callable[[], Fingerprint] = fingerprint,
        wait_quiet: bool = True,
    ) -> None:
        self.config = config
        self.store = store
        self.executor = executor
        self.env = env
        self.rng = rng
        self.clock = clock
        self.report = report
        self.host = host
        self.set_state = set_state  # the engine's status line, where it keeps one
        # Another host (a Dask worker, a cloud machine) runs the pairs there,
        # reports its own fingerprint, and its load is not ours to wait on.
        self.pairs_fn = pairs_fn
        self.where = where
        self.wait_quiet = wait_quiet
        self.too_noisy = False  # the last calibration's verdict
        self.noise_facts: dict[str, NoiseFacts] = {}
        decision = config.decision
        looks = tuple(decision.looks) or default_looks(config.bench.pairs, config.max_pairs)
        self.plan = Plan(
            looks,
            decision.alpha,
            spending=decision.spending,
            base_pairs=min(config.bench.pairs, looks[-1]),
            near=decision.near,
        )
        self.base_plan = self.plan
        # compiled targets: a fresh layout per run (bench.layout), see layout.py
        self.bench = layout_bench(config.bench, config.build)
        self.thresholds = {m.name: decision.min_effect for m in config.metrics}
        self.calibrated_at: datetime | None = None

    def wait_for_quiet_host(self, run_id: int) -> None:
        """Wait (bounded by max_wait_s) while on battery or the load is too high."""
        decision = self.config.decision
        waited = 0.0
        while self.wait_quiet:
            why = busy_reason(fingerprint(), decision.max_load_per_core, decision.wait_on_battery)
            if why is None:
                if waited:
                    self._state(run_id, EngineState.RUNNING, "")
                return
            if waited + decision.wait_s > decision.max_wait_s:
                self._event(
                    run_id,
                    None,
                    EventKind.HOST_GUARD,
                    f"{why}; waited {waited:g} s, benchmarking anyway",
                )
                return
            text = f"host guard: {why}; waiting {decision.wait_s:g} s"
            self._event(run_id, None, EventKind.HOST_GUARD, text)
            self._state(run_id, EngineState.WAITING, text)
            self.report(text)
            self.clock.sleep(decision.wait_s)
            waited += decision.wait_s

    # ------------------------------------------------------------ judging
    def judge(
        self,
        run_id: int,
        node: Node,
        dirs: dict[str, Path],
        log: Path,
        phases: tuple[str, str] = ("decide", "verify"),
    ) -> Judgement:
        """Sequential first pass; a winner is re-verified on fresh pairs.

        `phases` names the samples of the two passes (`perfsup minimize` keeps
        each ablation's samples apart under its own names).
        """
        judgement = Judgement()
        first = self._pass(run_id, node, phases[0], dirs, log, judgement)
        if first is None:
            return judgement
        final = first
        if first.keep and self.config.decision.reverify:
            self.report(f"{node.id:<10} re-verifying the winner on fresh pairs")
            # the fresh pass must find the gain on its own; the threshold is
            # then held to the estimate pooled over both passes (`confirm`)
            zero = {name: 0.0 for name in self.thresholds}
            again = self._pass(run_id, node, phases[1], dirs, log, judgement, 0, zero)
            if again is None:
                return judgement
            final = confirm(first, again, self.config.metrics, self.thresholds)
        judgement.reason = final.reason
        if not final.keep and final.per_metric:
            # a gain the raised threshold alone hid says so first (issue 16)
            primary = final.per_metric[0]
            facts = self.noise_facts.get(primary.metric)
            below = explain_below(primary.effect, facts) if facts is not None else ""
            if below:
                judgement.reason = f"{below}. {final.reason}"
        judgement.keep = final.keep
        judgement.recorded = final.per_metric[0]
        judgement.rule = final.rule
        judgement.analysis = "\n".join(
            f"{p.phase}: "
            + ", ".join(
                f"{m.metric} {m.verdict} {m.effect:+.2%} "
                f"(CI {m.ci_low:+.2%}..{m.ci_high:+.2%}, p={m.p_value:.3g}, "
                f"threshold {m.threshold:.2%}, {m.pairs} pairs)"
                for m in p.metrics
            )
            for p in judgement.passes
        )
        return judgement

    def _pass(
        self,
        run_id: int,
        node: Node,
        phase: str,
        dirs: dict[str, Path],
        log: Path,
        judgement: Judgement,
        warmup: int | None = None,
        thresholds: dict[str, float] | None = None,
    ) -> Decision | None:
        """One sequential pass; `warmup` None: the configured warm-up runs first."""
        self.wait_for_quiet_host(run_id)
        result: list[Decision] = []
        looks = set(self.plan.looks)

        def judge_now(outcome: BenchOutcome, final: bool) -> bool:
            look = judge_look(
                outcome.pairs,
                self.config.metrics,
                self.thresholds if thresholds is None else thresholds,
                self.plan,
                final=final,
                tolerance=self.config.decision.guard_tolerance,
                lexicographic=self.config.decision.lexicographic,
            )
            if look.stop:
                result.append(look.decision)
            return look.stop

        def after_pair(outcome: BenchOutcome) -> bool:
            n = outcome.pairs_done
            if n not in looks:
                return False
            return judge_now(outcome, final=n == self.plan.max_pairs)

        try:
            outcome = self._pairs(
                node.id, phase, dirs, log, self.plan.max_pairs, warmup, after_pair
            )
        except ValueError as exc:  # e.g. a zero on the log-ratio scale
            judgement.failure = (NodeStatus.CRASHED, f"cannot decide on these samples: {exc}")
            return None
        if outcome.failure is not None:
            judgement.failure = outcome.failure
            return None
        try:
            if not result:  # the pairs ended before a look stopped (a fixed remote plan)
                judge_now(outcome, final=True)
        except ValueError as exc:
            judgement.failure = (NodeStatus.CRASHED, f"cannot decide on these samples: {exc}")
            return None
        decision = result[-1]
        judgement.pairs_used += decision.per_metric[0].pairs
        judgement.passes.append(
            PassRecord(
                phase=phase,
                keep=decision.keep,
                reason=decision.reason,
                rule=decision.rule,
                alpha_per_look=dict(zip(self.plan.looks, self.plan.levels, strict=True)),
                spending=self.plan.spending,
                looks=list(self.plan.looks),
                metrics=list(decision.per_metric),
            )
        )
        return decision

    def _pairs(
        self,
        node_id: str,
        phase: str,
        dirs: dict[str, Path],
        log: Path,
        pairs: int,
        warmup: int | None,
        after_pair: Callable[[BenchOutcome], bool] | None = None,
    ) -> BenchOutcome:
        # Samples are written in batches: at each look of the sequential rule,
        # at the end of the pass, and at least every SAMPLE_FLUSH_S so the TUI
        # stays live. One transaction per sample cost more than the bookkeeping
        # it records; a crash loses only unflushed samples of the node in
        # flight, which the restart marks interrupted anyway.
        # Rows go in as plain dicts through one executemany: building a
        # validated Sample object per value cost more than the insert itself.
        batch: list[dict[str, Any]] = []
        flushed = [time.monotonic()]

        def flush() -> None:
            if batch:
                with self.store.session() as s:
                    s.connection().execute(insert(Sample), batch)
                batch.clear()
            flushed[0] = time.monotonic()

        def sink(side: str, index: int, is_warmup: bool, values: dict[str, float]) -> None:
            fp = self.where()
            now = utcnow()
            for metric, value in values.items():
                batch.append(
                    {
                        "node_id": node_id,
                        "metric": metric,
                        "side": side,
                        "pair_index": index,
                        "warmup": is_warmup,
                        "value": float(value),
                        "host": self.host,
                        "measured_at": now,
                        "phase": phase,
                        "cpu_model": fp.cpu_model,
                        "cpu_count": fp.cpu_count,
                        "governor": fp.governor,
                        "load_avg": fp.load_avg,
                        "on_battery": fp.on_battery,
                    }
                )
            if time.monotonic() - flushed[0] >= SAMPLE_FLUSH_S:
                flush()

        def at_pair(outcome: BenchOutcome) -> bool:
            stop = after_pair(outcome) if after_pair is not None else False
            if stop or outcome.pairs_done in self.plan.looks:
                flush()
            return stop

        try:
            bench = self.bench  # with its layout randomisation, if any
            return self.pairs_fn(
                executor=self.executor,
                command=bench.run,
                timeout_s=bench.timeout_s,
                metrics=self.config.metrics,
                dirs=dirs,
                log_path=log,
                env=self.env,
                rng=self.rng,
                sink=sink,
                pairs=pairs,
                warmup=bench.warmup if warmup is None else warmup,
                after_pair=at_pair,
            )
        finally:
            flush()

    # ------------------------------------------------------------- records
    def _event(self, run_id: int, node_id: str | None, kind: EventKind, message: str) -> None:
        with self.store.session() as s:
            record_event(s, kind, message, run_id=run_id, node_id=node_id)

    def _state(self, run_id: int, state: EngineState, detail: str) -> None:
        if self.set_state is not None:  # the engine's heartbeat writes it to the run
            self.set_state(state, detail)
            return
        with self.store.session() as s:
            run = s.get(Run, run_id)
            if run is not None:
                run.engine_state = state
                run.engine_detail = detail


def decision_json(judgement: Judgement) -> str:
    """The numbers of every pass, for Node.decision_json."""
    return DecisionRecord(rule=judgement.rule, passes=judgement.passes).to_json()
