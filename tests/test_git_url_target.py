"""A target given as a git URL: cloned into the run's cache once, fetched on
later runs. Served by a real `git daemon` on 127.0.0.1 (killed at the end)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfsup.store import Node
from tests.helpers import bench_sh_config, build_engine, git, make_repo, wait_until


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(git:// URL, working clone to push from) of a repository on a local git daemon."""
    work = make_repo(
        tmp_path / "work",
        {"src/app.py": "def work(n):\n    return sum(range(n))\n", "bench.sh": "echo METRIC t=1\n"},
    )
    base = tmp_path / "served"
    base.mkdir()
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(base / "app.git")], check=True)
    git(work, "remote", "add", "origin", str(base / "app.git"))
    port = free_port()
    serve = ["--listen=127.0.0.1", f"--port={port}", "--export-all", f"--base-path={base}"]
    daemon = subprocess.Popen(
        ["git", "daemon", *serve, "--reuseaddr", str(base)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # `git daemon` runs git-daemon as a child: kill the group
    )
    try:
        wait_until(lambda: listening(port), what=f"git daemon on port {port}", timeout=30)
        yield f"git://127.0.0.1:{port}/app.git", work
    finally:
        os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait()


def run_once(tmp_path: Path, url: str, experiments: int) -> Path:
    (tmp_path / "answers.toml").write_text(
        "[[answer]]\ntext = '''\nDESCRIPTION: closed form\nsrc/app.py\n<<<<<<< SEARCH\n"
        "    return sum(range(n))\n=======\n    return n * (n - 1) // 2\n>>>>>>> REPLACE\n'''\n"
    )
    config_path = tmp_path / "perfsup.toml"
    config_path.write_text(
        bench_sh_config(repo=url, tables=f"[budgets]\nmax_experiments = {experiments}\n")
    )
    engine = build_engine(config_path, tmp_path / "run")
    store = engine.store
    try:
        engine.run()
        with store.session() as s:
            node = s.get(Node, "1.1")
            assert node is not None and node.status == "discarded"
    finally:
        store.close()
    caches = [p for p in engine.paths.repo_cache.iterdir() if not p.name.startswith(".")]
    assert len(caches) == 1
    return caches[0]


def test_a_git_url_is_cloned_once_and_fetched_later(
    served: tuple[str, Path], tmp_path: Path
) -> None:
    url, work = served
    cache = run_once(tmp_path, url, experiments=1)
    assert git(cache, "rev-parse", "HEAD") == git(work, "rev-parse", "HEAD")
    (cache / "perfsup-was-here").write_text("same clone")

    (work / "README").write_text("new upstream commit\n")
    git(work, "add", "README")
    git(work, "commit", "-qm", "upstream moves on")
    git(work, "push", "-q", "origin", "main")

    again = run_once(tmp_path, url, experiments=2)
    assert again == cache and (cache / "perfsup-was-here").exists()  # fetched, not cloned
    assert git(cache, "rev-parse", "HEAD") == git(work, "rev-parse", "HEAD")
    assert git(cache, "branch", "--list", "perfsup/1.1")  # our branches survive the fetch
