"""A/A calibration and the noise guard, the half of `Measurer` that runs
before any candidate: the baseline against itself tells how noisy the machine
is, and the configured `on_noise` says what to do about it (wait, stop,
extend the pairs, or raise the threshold).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from perfsup.config import Config
from perfsup.engine.clock import Clock
from perfsup.metrics.calibration import Calibration as Calib
from perfsup.metrics.calibration import calibrate
from perfsup.metrics.scales import metric_gains, resolve_scale
from perfsup.metrics.sequential import Plan
from perfsup.metrics.threshold_explain import NoiseFacts, explain_threshold
from perfsup.store import Calibration, EngineState, EventKind, Node, NodeStatus, Store
from perfsup.workspace.pairs import CANDIDATE, PARENT, BenchOutcome


class GuardStop(Exception):
    """The noise guard ends the run (on_noise = "stop")."""


class CalibrationSteps:
    """Mixed into `Measurer`, which owns the state declared here."""

    config: Config
    store: Store
    clock: Clock
    report: Callable[[str], None]
    plan: Plan
    base_plan: Plan
    thresholds: dict[str, float]
    too_noisy: bool
    noise_facts: dict[str, NoiseFacts]  # per metric, the last calibration (explanations)
    calibrated_at: datetime | None
    _pairs: Callable[..., BenchOutcome]
    _event: Callable[[int, str | None, EventKind, str], None]
    _state: Callable[[int, EngineState, str], None]
    wait_for_quiet_host: Callable[[int], None]

    def due(self) -> bool:
        if self.config.decision.calibration_pairs == 0:
            return False
        if self.calibrated_at is None:
            return True
        period = timedelta(hours=self.config.decision.recalibrate_hours)
        return self.clock.now() - self.calibrated_at >= period

    def calibrate(self, run_id: int, node: Node, workdir: Path, log: Path) -> None:
        """A/A pairs of `node` against itself; set thresholds; apply the noise guard.

        Raises GuardStop when the guard is configured to stop the run.
        """
        decision = self.config.decision
        waited = 0.0
        failures = 0
        while True:
            self.wait_for_quiet_host(run_id)
            self._state(run_id, EngineState.RUNNING, f"A/A calibration on {node.id}")
            self.report(f"{node.id:<10} A/A calibration: {decision.calibration_pairs} pairs")
            outcome = self._pairs(
                node.id,
                "calibrate",
                {PARENT: workdir, CANDIDATE: workdir},
                log,
                decision.calibration_pairs,
                None,
            )
            self.calibrated_at = self.clock.now()
            if outcome.failure is not None and outcome.failure[0] == NodeStatus.CANCELLED:
                self._state(run_id, EngineState.RUNNING, "")
                return
            why = outcome.failure[1] if outcome.failure is not None else None
            calibs: list[Calib] = []
            if why is None:
                try:
                    calibs = [
                        calibrate(
                            spec.name,
                            metric_gains(spec, *outcome.pairs[spec.name]),
                            spec.direction,
                            decision.min_effect,
                            decision.alpha,
                            self.base_plan.budget,
                            resolve_scale(spec),
                        )
                        for spec in self.config.metrics
                    ]
                except ValueError as exc:
                    why = str(exc)
            if why is not None:
                # Shown, and retried: a silent failure left the thresholds at
                # their floor for hours (issue 15).
                failures += 1
                retry = failures <= decision.calibration_retries
                text = f"A/A calibration on {node.id} failed ({failures}): {why}" + (
                    "; retrying" if retry else "; deciding without a noise check until the next"
                )
                self._event(run_id, node.id, EventKind.CALIBRATION_FAILED, text)
                self.report(text)
                self._state(run_id, EngineState.RUNNING, "" if retry else text)
                if retry:
                    continue
                return
            noisy = [c for c in calibs if c.too_noisy]
            self.too_noisy = bool(noisy)
            self.plan = self.base_plan
            action = "ok"
            if noisy:
                action = decision.on_noise
                if action == "wait" and waited + decision.wait_s > decision.max_wait_s:
                    action = "extend"  # waited long enough: go on, honestly
            self._store_calibrations(run_id, node.id, calibs, action)
            self.noise_facts = {c.metric: self._facts(c, action) for c in calibs}
            summary = "; ".join(_calib_text(c) for c in calibs)
            if not noisy:
                self.thresholds = {m.name: decision.min_effect for m in self.config.metrics}
                self._event(run_id, node.id, EventKind.CALIBRATION, summary)
                self._state(run_id, EngineState.RUNNING, "")
                return
            guard = (
                f"noise guard: A/A noise hides the {decision.min_effect:.1%} minimum effect "
                f"with {self.base_plan.budget} pairs ({summary})"
            )
            if action == "stop":
                self._event(run_id, node.id, EventKind.NOISE_GUARD, guard + "; stopping the run")
                self._state(run_id, EngineState.STOPPED, guard)
                raise GuardStop(guard)
            if action in ("extend", "raise"):
                text = guard + "; " + self._go_on_noisy(noisy, action)
                self._event(run_id, node.id, EventKind.NOISE_GUARD, text)
                self._state(run_id, EngineState.RUNNING, text)
                self.report(text)
                return
            text = guard + f"; waiting {decision.wait_s:g} s, then calibrating again"
            self._event(run_id, node.id, EventKind.NOISE_GUARD, text)
            self._state(run_id, EngineState.WAITING, text)
            self.report(text)
            self.clock.sleep(decision.wait_s)
            waited += decision.wait_s

    def _go_on_noisy(self, noisy: list[Calib], action: str) -> str:
        """Go on after a too-noisy calibration: more pairs ("extend") or a raised threshold."""
        if action == "raise":
            for c in noisy:
                self.thresholds[c.metric] = c.threshold
            explained = "; ".join(explain_threshold(self.noise_facts[c.metric]) for c in noisy)
            return f"going on with the threshold raised to the noise floor: {explained}"
        needed = max(c.pairs_needed for c in noisy)
        most = self.base_plan.max_pairs
        self.plan = replace(self.base_plan, base_pairs=min(needed, most))
        if needed <= most:
            return f"using up to {needed} pairs per pass (the threshold stays)"
        return (
            f"it would take about {needed} pairs, more than the {most} allowed "
            f"(decision.max_pairs): using {most}; gains near the minimum may be missed"
        )

    def _facts(self, c: Calib, action: str) -> NoiseFacts:
        """What explains this metric's threshold from now on (`threshold_explain`)."""
        min_effect = self.config.decision.min_effect
        return NoiseFacts(
            metric=c.metric,
            min_effect=min_effect,
            noise_floor=c.noise_floor,
            threshold=c.threshold if action == "raise" else min_effect,
            action=action if c.too_noisy else "ok",
            floor_pairs=self.base_plan.budget,
            max_pairs=self.base_plan.max_pairs,
            calibration_pairs=c.pairs,
        )

    def _store_calibrations(
        self, run_id: int, node_id: str, calibs: list[Calib], action: str
    ) -> None:
        min_effect = self.config.decision.min_effect
        with self.store.session() as s:
            for c in calibs:
                s.add(
                    Calibration(
                        run_id=run_id,
                        node_id=node_id,
                        metric=c.metric,
                        pairs=c.pairs,
                        effect=c.effect,
                        ci_low=c.ci_low,
                        ci_high=c.ci_high,
                        noise_floor=c.noise_floor,
                        # the threshold in force: raised only by on_noise = "raise"
                        threshold=c.threshold if action == "raise" else min_effect,
                        too_noisy=c.too_noisy,
                        action=action if c.too_noisy else "ok",
                    )
                )


def _calib_text(c: Calib) -> str:
    """E.g. 'time_ms: A/A +0.3% [-1.1, +1.6], noise floor 1.2%, threshold 2.0% (10 pairs)'."""
    return (
        f"{c.metric}: A/A {c.effect:+.1%} [{c.ci_low * 100:+.1f}, {c.ci_high * 100:+.1f}], "
        f"noise floor {c.noise_floor:.1%}, threshold {c.threshold:.1%} ({c.pairs} pairs)"
    )
