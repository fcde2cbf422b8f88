"""What a run leaves in the person's repository: no worktree registered once it
ends (nor after a kill -9 and a resume), kept nodes reachable by their branches,
and `keep_worktrees` deciding which folders stay on disk. Real git, real
subprocesses, a real store; only the model is scripted."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from perfsup.store import Node
from tests.helpers import build_engine, git, make_repo, wait_until

APP = "SIZE = 100\n"
HALVE = (
    "DESCRIPTION: halve the work\nsrc/app.py\n<<<<<<< SEARCH\nSIZE = 100\n=======\n"
    "SIZE = 50\n>>>>>>> REPLACE\n"
)


def setup(
    tmp_path: Path,
    *,
    keep: str = "kept",
    bench_sleep: float = 0.0,
    answer: str = HALVE,
    name: str = "perfsup",
) -> Path:
    """A target whose bench prints SIZE: halving it is kept, deterministically.
    `name`: another config (and answer file) on the same repository."""
    sleep = f"sleep {bench_sleep}\n" if bench_sleep else ""
    bench = sleep + "python -c \"import src.app as a; print('METRIC t=%d' % a.SIZE)\"\n"
    if not (tmp_path / "repo").exists():
        make_repo(tmp_path / "repo", {"src/app.py": APP, "bench.sh": bench})
    (tmp_path / f"{name}-answers.toml").write_text(f"[[answer]]\ntext = '''\n{answer}'''\n")
    config = tmp_path / f"{name}.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            [target]
            repo = "repo"
            goal = "less work"
            [build]
            run = "python -c 'import src.app'"
            [bench]
            run = "bash bench.sh"
            pairs = 5
            warmup = 0
            [[metrics]]
            name = "t"
            [access]
            writable = ["src"]
            protected = ["bench.sh"]
            [model]
            backend = "scripted"
            script = "{name}-answers.toml"
            [budgets]
            max_experiments = 1
            [decision]
            max_load_per_core = 0
            calibration_pairs = 0
            confirm_at_end = false
            [run]
            keep_worktrees = "{keep}"
            """
        )
    )
    return config


def registered(repo: Path) -> list[Path]:
    """The worktrees `git worktree list` shows, the main checkout first."""
    out = git(repo, "worktree", "list", "--porcelain")
    lines = out.splitlines()
    return [Path(line.removeprefix("worktree ")) for line in lines if line.startswith("worktree ")]


def test_a_finished_run_leaves_no_worktree_registered_and_its_kept_node_on_a_branch(
    tmp_path: Path,
) -> None:
    engine = build_engine(setup(tmp_path), tmp_path / "run")
    engine.run()
    with engine.store.session() as s:
        node = s.get(Node, "1.1")
        assert node is not None and node.status == "kept", node.reason if node else None
        sha = node.commit_sha
    repo = tmp_path / "repo"
    assert registered(repo) == [repo.resolve()]
    assert git(repo, "rev-parse", "perfsup/1.1") == sha
    # keep_worktrees = "kept": the kept node's files stay on disk, a plain folder
    folder = tmp_path / "run" / "worktrees" / "1.1"
    assert (folder / "src" / "app.py").read_text() == "SIZE = 50\n"
    assert not (folder / ".git").exists()
    assert git(repo, "status", "--porcelain") == ""


def test_keep_worktrees_none_leaves_no_folder_either(tmp_path: Path) -> None:
    engine = build_engine(setup(tmp_path, keep="none"), tmp_path / "run")
    engine.run()
    repo = tmp_path / "repo"
    assert registered(repo) == [repo.resolve()]
    worktrees = tmp_path / "run" / "worktrees"
    assert not worktrees.exists() or not list(worktrees.iterdir())
    assert git(repo, "branch", "--list", "perfsup/1.1")


def _status(db: Path, node_id: str) -> str | None:
    if not db.exists():
        return None
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as con:
            row = con.execute("SELECT status FROM node WHERE id = ?", (node_id,)).fetchone()
    except sqlite3.OperationalError:
        return None
    return row[0] if row else None


@pytest.mark.slow
def test_a_resume_after_kill_9_prunes_the_dead_engine_s_worktrees(tmp_path: Path) -> None:
    config = setup(tmp_path, bench_sleep=0.3)
    repo = tmp_path / "repo"
    run_dir = tmp_path / "run"
    argv = [sys.executable, "-m", "perfsup", "run", "--headless", "-c", str(config)]
    argv += ["--run-dir", str(run_dir)]
    with (tmp_path / "engine.log").open("ab") as log:
        engine = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until(
                lambda: (
                    _status(run_dir / "perfsup.db", "1.1") == "benchmarking"
                    and len(registered(repo)) >= 3
                ),
                what="node 1.1 benchmarking in its worktree, beside the baseline's",
                timeout=120,
            )
        finally:
            engine.send_signal(signal.SIGKILL)
            engine.wait(timeout=60)
        left = registered(repo)
        assert len(left) >= 3  # the dead engine left its worktrees registered
        # one of them vanished meanwhile: a stale registration
        subprocess.run(["rm", "-rf", str(run_dir / "worktrees" / "1")], check=True)
        done = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, timeout=600)
    assert done.returncode == 0, (tmp_path / "engine.log").read_text()[-2000:]
    assert registered(repo) == [repo.resolve()]
    assert git(repo, "status", "--porcelain") == ""


QUARTER = HALVE.replace("halve", "quarter").replace("SIZE = 50", "SIZE = 25")


def test_two_run_folders_on_one_repository_never_move_each_other_s_branches(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    first = build_engine(setup(tmp_path), tmp_path / "night-a")
    first.run()
    ours = git(repo, "rev-parse", "perfsup/1.1")
    lines: list[str] = []
    second = build_engine(
        setup(tmp_path, answer=QUARTER, name="other"), tmp_path / "night-b", report=lines.append
    )
    second.run()
    with second.store.session() as s:
        node = s.get(Node, "1.1")
        assert node is not None and node.status == "kept", node.reason if node else None
        branch, sha = node.branch, node.commit_sha
    # the first run's branch is where it was; the second run's names carry its folder
    assert git(repo, "rev-parse", "perfsup/1.1") == ours
    assert git(repo, "show", "perfsup/1.1:src/app.py") == "SIZE = 50"
    assert branch is not None and branch.startswith("perfsup/night-b-") and branch.endswith("/1.1")
    assert git(repo, "rev-parse", branch) == sha
    assert git(repo, "show", f"{branch}:src/app.py") == "SIZE = 25"
    assert any(f"{branch.removesuffix('1.1')}<id>" in line for line in lines), lines
    # the first run folder keeps the plain names when it goes on
    again = build_engine(setup(tmp_path), tmp_path / "night-a")
    assert again.runs.open() == 1
    assert again.git.node_branch("1.2") == "perfsup/1.2"


def test_a_deleted_run_folder_s_claim_is_taken_over_once_its_branches_are_gone(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    build_engine(setup(tmp_path), tmp_path / "night-a").run()
    subprocess.run(["rm", "-rf", str(tmp_path / "night-a")], check=True)
    # its branches are still there: the plain names stay theirs
    second = build_engine(setup(tmp_path, name="other"), tmp_path / "night-b")
    assert second.runs.open() == 1
    assert second.git.branch_prefix.startswith("perfsup/night-b-")
    git(repo, "branch", "-D", "perfsup/1.1")
    third = build_engine(setup(tmp_path, name="third"), tmp_path / "night-c")
    third.runs.open()
    assert third.git.branch_prefix == "perfsup/"
    claim = (repo / ".git" / "perfsup-owner").read_text().strip()
    assert claim == str((tmp_path / "night-c").resolve())
