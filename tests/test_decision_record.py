"""The decision record: typed from the statistics to Node.decision_json and back,
reading records stored before it existed."""

from __future__ import annotations

import json

from perfsup.metrics.record import DecisionRecord, PassRecord
from perfsup.metrics.stats import Decision, MetricDecision, Verdict

# A record as perfsup wrote it before the typed record (dicts through json.dumps).
OLD = json.dumps(
    {
        "rule": "sequential-hl-wilcoxon-v2",
        "passes": [
            {
                "phase": "decide",
                "keep": True,
                "reason": "t 30.0% better",
                "rule": "sequential-hl-wilcoxon-v2",
                "alpha_per_look": 0.0125,
                "looks": [6, 10],
                "metrics": [
                    {
                        "metric": "t",
                        "verdict": "better",
                        "effect": 0.3,
                        "ci_low": 0.25,
                        "ci_high": 0.35,
                        "p_value": 0.002,
                        "pairs": 6,
                        "rule": "sequential-hl-wilcoxon-v2",
                        "threshold": 0.02,
                    }
                ],
            },
            {
                "phase": "verify",
                "keep": True,
                "reason": "t 28.0% better",
                "rule": "sequential-hl-wilcoxon-v2",
                "alpha_per_look": 0.0125,
                "looks": [6, 10],
                "metrics": [
                    {
                        "metric": "t",
                        "verdict": "better",
                        "effect": 0.28,
                        "ci_low": 0.2,
                        "ci_high": 0.33,
                        "p_value": float("nan"),
                        "pairs": 10,
                        "rule": "sequential-hl-wilcoxon-v2",
                        "threshold": 0.02,
                    }
                ],
            },
        ],
    }
)


def test_an_old_record_reads_into_typed_passes_and_effects() -> None:
    record = DecisionRecord.from_json(OLD)
    assert record is not None and record.final is not None
    assert record.final.phase == "verify"
    assert record.final.metrics[0].verdict is Verdict.BETTER
    (effect,) = record.effects()
    assert effect.line() == "t 28.0% better [+20.0%, +33.0%] (re-verified, 10 pairs)"


def test_a_record_is_stored_in_the_old_shape() -> None:
    record = DecisionRecord.from_json(OLD)
    assert record is not None
    assert json.loads(record.to_json()).keys() == json.loads(OLD).keys()
    again = json.loads(record.to_json())["passes"][0]
    before = json.loads(OLD)["passes"][0]
    # every stored field comes back unchanged; rule v3 only adds each metric's
    # role and note (with their defaults for an old record)
    assert {k: v for k, v in again.items() if k != "metrics"} == {
        k: v for k, v in before.items() if k != "metrics"
    }
    for got, stored in zip(again["metrics"], before["metrics"], strict=True):
        assert {k: got[k] for k in stored} == stored
        assert set(got) - set(stored) <= {"role", "note"}


def test_a_pass_is_built_from_the_rule_s_decision() -> None:
    metric = MetricDecision("t", Verdict.TIE, 0.01, -0.02, 0.03, 0.4, 10, "r", 0.02)
    made = PassRecord.of("decide", Decision(False, "tie", [metric], "r"), 0.01, (6, 10))
    stored = json.loads(DecisionRecord(rule="r", passes=[made]).to_json())
    assert stored["passes"][0]["metrics"][0]["verdict"] == "tie"
    assert stored["passes"][0]["looks"] == [6, 10]


def test_a_damaged_record_is_none_not_an_error() -> None:
    assert DecisionRecord.from_json("{not json") is None
    assert DecisionRecord.from_json('{"passes": [{"metrics": [{"metric": 3}]}]}') is None
    assert DecisionRecord.from_json(None) is None
