"""Disk guard on real folders."""

from __future__ import annotations

from pathlib import Path

from perfsup.engine.guards import disk_problem, tree_size


def test_worktrees_and_logs_over_the_budget_are_a_problem(tmp_path: Path) -> None:
    (tmp_path / "logs" / "1.1").mkdir(parents=True)
    (tmp_path / "logs" / "1.1" / "bench.log").write_bytes(b"x" * 1_500_000)
    (tmp_path / "worktrees" / "1.1").mkdir(parents=True)
    (tmp_path / "worktrees" / "1.1" / "big").write_bytes(b"x" * 700_000)
    (tmp_path / "perfsup.db").write_bytes(b"x" * 5_000_000)  # the store is not counted
    assert tree_size(tmp_path / "logs") == 1_500_000
    problem = disk_problem(tmp_path, max_disk_mb=2, min_free_mb=0)
    assert problem is not None and "use 2 MiB, over run.max_disk_mb = 2" in problem
    assert disk_problem(tmp_path, max_disk_mb=3, min_free_mb=0) is None
    assert disk_problem(tmp_path, max_disk_mb=0, min_free_mb=0) is None
