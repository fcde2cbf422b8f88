"""End-of-night confirmation: the best node against the baseline on fresh builds,
and on a held-out benchmark, through the real engine (real git, subprocesses,
store); only the model is scripted."""

from __future__ import annotations

import textwrap
from pathlib import Path

from sqlmodel import select

from perfsup.results.report import write_report
from perfsup.store import Event, Node, Sample
from tests.helpers import build_engine, make_repo

APP = "SIZE = 100\nHELD = 7\n"
BENCH = "python -c \"import src.app as a; print('METRIC t=%d' % a.{})\"\n"
HALVE = (
    "DESCRIPTION: halve the work\nsrc/app.py\n<<<<<<< SEARCH\nSIZE = 100\n=======\n"
    "SIZE = 50\n>>>>>>> REPLACE\n"
)


def setup(tmp_path: Path, held_out: bool) -> Path:
    files = {"src/app.py": APP, "bench.sh": BENCH.format("SIZE"), "held.sh": BENCH.format("HELD")}
    make_repo(tmp_path / "repo", files)
    (tmp_path / "answers.toml").write_text(f"[[answer]]\ntext = '''\n{HALVE}'''\n")
    held = 'held_out = "bash held.sh"\n' if held_out else ""
    config = tmp_path / "perfsup.toml"
    config.write_text(
        textwrap.dedent(
            """
            [target]
            repo = "repo"
            goal = "less work"
            [build]
            run = "python -c 'import src.app'"
            [bench]
            run = "bash bench.sh"
            pairs = 5
            warmup = 0
            """
        )
        + held
        + textwrap.dedent(
            """
            [[metrics]]
            name = "t"
            [access]
            writable = ["src"]
            protected = ["bench.sh", "held.sh"]
            [model]
            backend = "scripted"
            script = "answers.toml"
            [budgets]
            max_experiments = 1
            [decision]
            max_load_per_core = 0
            calibration_pairs = 0
            """
        )
    )
    return config


def confirmations(engine: object) -> list[str]:
    with engine.store.session() as s:  # type: ignore[attr-defined]
        rows = s.exec(select(Event).where(Event.kind == "confirmation")).all()
        return [e.message for e in rows]


def test_best_node_is_confirmed_on_fresh_builds_and_judged_on_the_held_out_benchmark(
    tmp_path: Path,
) -> None:
    engine = build_engine(setup(tmp_path, held_out=True), tmp_path / "run")
    outcome = engine.run()
    with engine.store.session() as s:
        node = s.get(Node, "1.1")
        phases = {x.phase for x in s.exec(select(Sample).where(Sample.node_id == "1.1")).all()}
    assert node is not None and node.status == "kept", node.reason if node else None
    found = confirmations(engine)
    assert len(found) == 2
    assert "best node 1.1 on fresh builds, benchmark: confirmed against the baseline 1" in found[0]
    assert "t +50.0%" in found[0]
    # the held-out workload does not change: not confirmed, and that shows
    assert "held-out benchmark: not confirmed" in found[1]
    assert {"confirm", "held-out"} <= phases
    report = write_report(engine.store, outcome.run_id, tmp_path / "report.md", paths=engine.paths)
    text = report.report.read_text()
    assert "End-of-night confirmation" in text
    assert "benchmark: confirmed" in text and "held-out benchmark: not confirmed" in text
    # the fresh worktrees are gone again
    assert not list(engine.paths.worktrees.glob("confirm-*"))


def test_no_confirmation_without_a_kept_node_or_when_turned_off(tmp_path: Path) -> None:
    config = setup(tmp_path, held_out=False)
    config.write_text(config.read_text() + "confirm_at_end = false\n")
    engine = build_engine(config, tmp_path / "run")
    engine.run()
    assert confirmations(engine) == []
