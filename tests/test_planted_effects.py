"""Planted, real effects in a copy of the demo target, judged by the real engine.

The planted work is proportional to the benchmark's own workload (the
quadratic `unknown_words` over a slice of the words), so the effect is the same
size whatever the machine: an extra pass over a tenth of the words makes
summarize about 10% slower; removing an extra pass over half of the words
(planted in the baseline) makes it about a third faster. (A quarter, for a 20%
gain, was kept on a quiet machine but once lost on a loaded CI machine: 5 of 30
pairs hit by the machine's own spikes left the Wilcoxon p-value above the
per-look alpha while the estimate was +17.5%. That is the rule being careful,
not wrong; this test is about the engine keeping a real gain end to end.)

The copy's bench.py times with `time.process_time()` (CPU time of the
process) instead of `time.perf_counter()`: on a CI machine shared with other
jobs, wall time swings by a factor of two with the machine's load (35 to 80 ms
for the same code at a load of 6 on 2 cores), and the A/A calibration then
rightly raises the threshold above 20%, so "is a real 20% gain kept" would
test the machine, not the rule. How the rule copes with that wall-time noise
is shown by the demo run, `benchmarks/real_aa.py` and the decision simulation.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlmodel import select

from perfsup.engine.loop import Engine
from perfsup.store import Calibration, Event, Node, Sample
from tests.helpers import build_engine, git

pytestmark = pytest.mark.slow

TARGET = Path(__file__).resolve().parent.parent / "perfsup" / "demo" / "target"
ORIGINAL = "    unknown = unknown_words(words, vocabulary)\n"
SLICE_10 = "    unknown_words(words[: len(words) // 10], vocabulary)  # planted: ~10% slower\n"
SLICE_50 = "    unknown_words(words[: len(words) // 2], vocabulary)  # planted: ~50% extra work\n"


def answer(description: str, search: str, replace: str) -> str:
    return (
        f"[[answer]]\ntext = '''\nDESCRIPTION: {description}\ntextstats/core.py\n"
        f"<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n'''\n\n"
    )


def prepare(tmp_path: Path, base_extra: str, answers: list[str], experiments: int) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(TARGET, repo, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    core = repo / "textstats" / "core.py"
    core.write_text(core.read_text().replace(ORIGINAL, ORIGINAL + base_extra))
    bench = repo / "bench.py"
    text = bench.read_text().replace("time.perf_counter()", "time.process_time()")
    # the fastest of 7 calls, not 3: a busy CI machine's spikes hit CPU time too
    bench.write_text(text.replace("REPEATS = 3", "REPEATS = 7"))
    (repo / "answers.toml").write_text("".join(answers))
    config = repo / "perfsup.toml"
    text = config.read_text().replace("max_experiments = 5", f"max_experiments = {experiments}")
    # More room than the demo's 14 pairs: a loaded CI machine is noisier than a home one.
    text = text.replace("pairs = 14", "pairs = 30").replace("looks = [6, 10, 14]", "looks = []")
    config.write_text(text.replace("calibration_pairs = 10", "calibration_pairs = 20"))
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "baseline")
    return config


def run(config_path: Path, tmp_path: Path) -> Engine:
    engine = build_engine(config_path, tmp_path / "run", seed=11)
    engine.run()
    return engine


def test_a_real_10_percent_slowdown_is_never_kept(tmp_path: Path) -> None:
    # three distinct diffs (an identical diff is refused as a twin), the same work
    slower = [
        answer(f"an extra pass, take {k}", ORIGINAL, ORIGINAL + SLICE_10.replace("\n", f" {k}\n"))
        for k in (1, 2, 3)
    ]
    config = prepare(tmp_path, "", slower, experiments=3)
    engine = run(config, tmp_path)
    with engine.store.session() as s:
        tried = s.exec(select(Node).where(Node.parent_id == "1")).all()
        calibrations = s.exec(select(Calibration)).all()
        events = {e.kind for e in s.exec(select(Event)).all()}
    assert len(tried) == 3
    assert [n.status for n in tried] == ["discarded"] * 3, [n.reason for n in tried]
    for node in tried:
        assert node.decision_rule == "sequential-hl-wilcoxon-v2"
        assert node.effect is not None and node.effect < 0.05  # never reported as a gain
        assert node.threshold is not None and node.threshold >= 0.02
    assert calibrations and calibrations[0].node_id == "1"
    assert events & {"calibration", "noise_guard"}


def test_a_real_speedup_of_a_third_is_kept_with_an_interval_above_zero(tmp_path: Path) -> None:
    faster = answer("drop the extra pass", ORIGINAL + SLICE_50, ORIGINAL)
    config = prepare(tmp_path, SLICE_50, [faster], experiments=1)
    engine = run(config, tmp_path)
    with engine.store.session() as s:
        node = s.get(Node, "1.1")
        assert node is not None
        verify = s.exec(select(Sample).where(Sample.node_id == "1.1", Sample.phase == "verify"))
        verify_samples = verify.all()
    assert node.status == "kept", node.reason
    assert node.reason is not None and node.reason.startswith("re-verified: ")
    assert node.ci_low is not None and node.ci_high is not None and node.effect is not None
    assert 0.0 < node.ci_low <= node.effect <= node.ci_high
    assert 0.15 < node.effect < 0.5
    passes = json.loads(node.decision_json or "{}")["passes"]
    assert [p["phase"] for p in passes] == ["decide", "verify"]
    # the recorded effect is the re-verified one
    assert passes[1]["metrics"][0]["effect"] == pytest.approx(node.effect)
    assert verify_samples and all(s.cpu_count for s in verify_samples)
