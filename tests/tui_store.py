"""A deterministic run directory for the TUI tests: a real store, real log files,
a real git repository with one kept change (so export works)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from perfsup.config import Config
from perfsup.config.load import parse_config
from perfsup.engine.rundir import RunPaths
from perfsup.metrics.record import DecisionRecord, PassRecord
from perfsup.metrics.stats import MetricDecision, Verdict
from perfsup.store import Artifact, Calibration, Event, Node, Run, Sample, open_store
from tests.helpers import git, make_repo

T0 = datetime(2026, 1, 5, 23, 0, tzinfo=UTC)

CONFIG = """
[target]
repo = "repo"
goal = "make summarize faster"

[bench]
run = "python bench.py"
pairs = 6

[[metrics]]
name = "time_ms"
direction = "lower"

[access]
writable = ["src"]

[model]
backend = "scripted"
script = "answers.toml"

[budgets]
max_experiments = 40
max_tokens = 100000

[tui]
{tui}
"""

NODES = [
    # id, status, description, effect, ci, reason
    ("1", "kept", "baseline", None, None, "baseline"),
    ("1.1", "discarded", "Rename the locals of top_words", 0.012, (-0.05, 0.07), "no gain"),
    ("1.2", "kept", "Use sets for the membership tests", 0.42, (0.39, 0.45), "faster"),
    ("1.2.1", "checks_failed", "Skip lower-casing in normalize", None, None, "check failed"),
    ("1.2.2", "benchmarking", "Cache the tokenizer", None, None, None),
    ("1.3", "pruned", "Rewrite in numpy", None, None, "pruned by a person"),
]


def decision_json(metrics: list[tuple[str, str, float, float, float]]) -> str:
    """A stored decision: one pass, (metric, role, effect, ci_low, ci_high) per metric."""
    decisions = [
        MetricDecision(
            metric=name, verdict=Verdict.BETTER if effect > 0 else Verdict.WORSE, effect=effect,
            ci_low=low, ci_high=high, p_value=0.001, pairs=6, rule="v3", threshold=0.02, role=role,
        )
        for name, role, effect, low, high in metrics
    ]  # fmt: skip
    passes = [PassRecord(phase="decide", keep=True, reason="faster", rule="v3", metrics=decisions)]
    return DecisionRecord(rule="v3", passes=passes).to_json()


@dataclass
class RunFixture:
    root: Path
    paths: RunPaths
    config: Config
    repo: Path


def build_run(
    tmp: Path, *, finished: bool = False, tui: str = "", n_runs: int = 1, calibrated: bool = False
) -> RunFixture:
    """The run; `calibrated` adds the baseline's A/A calibration (the noise floor)."""
    repo = make_repo(tmp / "repo", {"src/app.py": "def f():\n    return [x for x in range(9)]\n"})
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "-b", "perfsup/1.2")
    (repo / "src/app.py").write_text("def f():\n    return list(range(9))\n")
    git(repo, "commit", "-qam", "perfsup 1.2: use a list")
    kept_sha = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "main")
    (tmp / "answers.toml").write_text("")
    config_path = tmp / "perfsup.toml"
    config_path.write_text(CONFIG.format(tui=tui))
    config = parse_config(config_path.read_text(), config_path)
    paths = RunPaths(tmp / "run")
    store = open_store(paths.store)
    diff = (
        "--- a/src/app.py\n+++ b/src/app.py\n@@ -1,2 +1,2 @@\n def f():\n"
        "-    return [x for x in range(9)]\n+    return list(range(9))\n"
    )
    with store.session() as s:
        for run_id in range(1, n_runs + 1):
            s.add(
                Run(
                    id=run_id, created_at=T0, goal="make summarize faster", config_toml="",
                    repo_path=str(repo), baseline_commit=base, root_node_id=str(run_id),
                    status="finished" if finished else "running",
                    stop_reason="experiment budget reached (5 of 5)" if finished else None,
                    tokens_used=5922, engine_state="stopped" if finished else "running",
                    engine_detail="" if finished else "benchmarking 1.2.2",
                    heartbeat_at=T0 + timedelta(hours=1), finished_at=None,
                )
            )  # fmt: skip
        s.flush()
        for index, (node_id, status, text, effect, ci, reason) in enumerate(NODES):
            parent = node_id.rsplit(".", 1)[0] if "." in node_id else None
            if finished and status == "benchmarking":
                status, reason = "interrupted", "the engine stopped"
            done = None if status == "benchmarking" else T0 + timedelta(minutes=index + 1)
            s.add(
                Node(
                    id=node_id, run_id=1, parent_id=parent, depth=node_id.count("."),
                    status=status, description=text, effect=effect,
                    ci_low=ci[0] if ci else None, ci_high=ci[1] if ci else None, reason=reason,
                    diff=diff if node_id == "1.2" else "",
                    commit_sha=kept_sha if node_id == "1.2" else None,
                    created_at=T0, started_at=T0 + timedelta(minutes=index),
                    finished_at=done,
                )
            )  # fmt: skip
        for run_id in range(2, n_runs + 1):
            s.add(Node(id=str(run_id), run_id=run_id, status="kept", description="baseline"))
        s.flush()
        for node_id, parent_ms, cand_ms in (("1.2", 100.0, 58.0), ("1.2.2", 58.0, 50.0)):
            pairs = 6 if node_id == "1.2" else 3
            for i in range(pairs):
                s.add(Sample(node_id=node_id, metric="time_ms", side="parent", pair_index=i,
                             value=parent_ms + i % 3, measured_at=T0))  # fmt: skip
                s.add(Sample(node_id=node_id, metric="time_ms", side="candidate", pair_index=i,
                             value=cand_ms + i % 2, measured_at=T0))  # fmt: skip
        for node_id in ("1.2", "1.2.2"):
            for step in ("agent", "build", "bench"):
                log = paths.log(node_id, step)
                log.parent.mkdir(parents=True, exist_ok=True)
                lines = [f"\x1b[32m{step} of {node_id}: line {i}\x1b[0m" for i in range(5)]
                log.write_text("\n".join(lines) + "\n")
                s.add(Artifact(node_id=node_id, kind="log", step=step, path=str(log)))
        s.add(Event(run_id=1, kind="run_started", message="run 1 started", created_at=T0))
        if calibrated:
            s.add(
                Calibration(
                    run_id=1, node_id="1", metric="time_ms", pairs=10, effect=0.002,
                    ci_low=-0.01, ci_high=0.012, noise_floor=0.011, threshold=0.02, created_at=T0,
                )
            )  # fmt: skip
        kept = s.get(Node, "1.2")
        assert kept is not None
        kept.p_value, kept.pairs_used, kept.threshold = 0.001, 6, 0.02
        kept.model, kept.prompt_tokens, kept.completion_tokens = "scripted", 1200, 180
        kept.decision_json = decision_json([("time_ms", "primary", 0.42, 0.39, 0.45)])
    store.close()
    return RunFixture(tmp / "run", paths, config, repo)


DEMO_SQL = Path(__file__).parent / "data" / "demo_run.sql"
DEMO_TOML = Path(__file__).parent / "data" / "demo_run.toml"


def demo_run(tmp: Path) -> tuple[RunPaths, Config, datetime]:
    """The store of a real `perfsup demo --headless --seed 7` run (tests/data/make_demo_run.py
    made it), its config, and the moment the run finished (the app's fixed clock)."""
    import sqlite3

    paths = RunPaths(tmp / "run")
    paths.root.mkdir(parents=True)
    db = sqlite3.connect(paths.store)
    try:
        db.executescript(DEMO_SQL.read_text())
        finished = db.execute("SELECT max(finished_at) FROM node").fetchone()[0]
    finally:
        db.close()
    config_path = tmp / "repo" / "perfsup.toml"
    make_repo(config_path.parent, {"answers.toml": "", "textstats/__init__.py": ""})
    config = parse_config(DEMO_TOML.read_text(), config_path)
    return paths, config, datetime.fromisoformat(finished).replace(tzinfo=UTC)
