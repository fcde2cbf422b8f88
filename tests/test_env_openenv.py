"""perfsup as an OpenEnv environment, end to end: a real git daemon on 127.0.0.1
serves the Go demo, `perfsup env serve` serves episodes of it, and OpenEnv's own
WebSocket client drives them (two at once in the last test)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("openenv", reason="the env extra is not installed (pip install 'perfsup[env]')")

from perfsup.demo import GO_TARGET, prepare_demo
from perfsup.env.client import PerfEnvClient
from perfsup.env.models import PerfAction
from perfsup.env.perfmodes import NO_COUNTERS
from tests.helpers import wait_until
from tests.test_git_url_target import free_port, listening

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("go") is None, reason="the Go demo needs the go tool"),
]

ANSWERS = [a["text"] for a in tomllib.loads((GO_TARGET / "answers.toml").read_text())["answer"]]
RENAME, FIX, BREAK = ANSWERS  # no change in speed, the allocation fix, a broken atoi
PROTECTED = """DESCRIPTION: weaken the test
linestat_test.go
<<<<<<< SEARCH
package linestat
=======
package linestat // edited
>>>>>>> REPLACE
"""


@pytest.fixture(scope="module")
def git_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Go demo as a bare repository on a `git daemon`, started once for the module."""
    root = tmp_path_factory.mktemp("served")
    repo = prepare_demo(root / "demo", go=True)
    base = root / "git"
    base.mkdir()
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(base / "go.git")], check=True)
    port = free_port()
    serve = ["--listen=127.0.0.1", f"--port={port}", "--export-all", f"--base-path={base}"]
    daemon = subprocess.Popen(
        ["git", "daemon", *serve, "--reuseaddr", str(base)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until(lambda: listening(port), what=f"git daemon on port {port}", timeout=30)
        yield f"git://127.0.0.1:{port}/go.git"
    finally:
        os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait()


@pytest.fixture(scope="module")
def server(git_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`perfsup env serve` on a free port of 127.0.0.1; its base URL."""
    root = tmp_path_factory.mktemp("env")
    tasks = root / "tasks.toml"
    tasks.write_text(f'[[task]]\nname = "go-demo"\nrepo = "{git_url}"\nmax_steps = 20\n')
    where = ["--port", "0", "--workdir", str(root / "work")]
    proc = subprocess.Popen(
        [sys.executable, "-m", "perfsup", "env", "serve", "--tasks", str(tasks), *where],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the server's first line says where it listens
        found = re.search(r"serving go-demo on (http://127\.0\.0\.1:\d+)", line)
        assert found, line + (proc.stderr.read() if proc.poll() is not None and proc.stderr else "")
        yield found[1]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)


def test_every_action_and_the_rewards_of_the_go_demo(server: str) -> None:
    with PerfEnvClient(server).sync() as env:
        start = env.reset(task="go-demo", seed=1).observation
        assert "baseline built and benchmarked" in start.message
        assert start.goal.startswith("Make BenchmarkSumColumns allocate less")

        status = env.step(PerfAction(kind="git", args=["status", "--short"]))
        assert status.observation.exit_code == 0 and status.reward == 0
        refused_git = env.step(PerfAction(kind="git", args=["push", "origin"]))
        assert refused_git.observation.verdict == "rejected" and refused_git.reward < 0

        tests = env.step(PerfAction(kind="tests")).observation
        assert tests.exit_code == 0 and tests.test_failures == []

        escape = env.step(PerfAction(kind="escape_analysis")).observation
        assert "linestat.go:25" in escape.escape_summary
        assert "escapes to heap" in escape.escape_summary

        perf = env.step(PerfAction(kind="perf", mode="stat")).observation
        # with counters: perf's own numbers; without (this machine): said so, and callgrind's
        assert "cycles" in perf.perf_summary or NO_COUNTERS in perf.perf_summary
        if NO_COUNTERS in perf.perf_summary:
            assert "Ir:" in perf.perf_summary and "task-clock" in perf.perf_summary
        assert env.state().artifacts

        bench = env.step(PerfAction(kind="benchmarks", benchtime="20ms", count=2))
        assert bench.reward == 0  # benchmarks alone never earn reward
        assert "BenchmarkSumColumns allocs/op" in bench.observation.bench_summary
        assert bench.observation.bench_summary["BenchmarkSumColumns allocs/op"]["n"] == 2
        assert "allocs/op" in bench.observation.comparison

        noop = env.step(PerfAction(kind="patch", patch=RENAME))
        assert noop.observation.verdict == "tie" and noop.reward == 0

        fix = env.step(PerfAction(kind="patch", patch=FIX))
        assert fix.observation.verdict == "better", fix.observation.message
        assert fix.reward is not None and fix.reward > 0.5
        interval = fix.observation.reward_interval
        assert interval is not None and interval[0] > 0

        flags = env.step(PerfAction(kind="build_flags", flags={"ldflags": "-s"}))
        assert flags.observation.verdict in ("better", "tie", "worse")
        assert env.state().build_flags == {"ldflags": "-s"}
        bad_flags = env.step(PerfAction(kind="build_flags", flags={"gcflags": "-N -l"}))
        assert bad_flags.observation.verdict == "rejected" and bad_flags.reward < 0

        outside = env.step(PerfAction(kind="patch", patch=PROTECTED))
        assert outside.observation.verdict == "rejected" and outside.reward < 0
        assert "linestat_test.go" in outside.observation.message

        broken = env.step(PerfAction(kind="patch", patch=BREAK))
        assert broken.observation.verdict == "failed" and broken.reward < 0
        assert "TestAtoi" in broken.observation.test_failures

        state = env.state()
        assert state.step_count == 12 and state.remaining == 8
        assert [h["action"] for h in state.history][:3] == ["git", "git", "tests"]
        assert state.baseline_metrics["allocs_op"] > state.current_metrics["allocs_op"]
        assert sum(state.rewards[:8]) == pytest.approx(state.credited - 0.1)  # one refused git


def test_two_episodes_at_once_do_not_touch_each_other(server: str) -> None:
    async def fixing() -> tuple[str, float]:
        async with PerfEnvClient(server) as env:
            await env.reset(task="go-demo", seed=2)
            fix = await env.step(PerfAction(kind="patch", patch=FIX))
            diff = await env.step(PerfAction(kind="git", args=["diff"]))
            return diff.observation.stdout, float(fix.reward or 0)

    async def looking() -> tuple[str, str, bool]:
        async with PerfEnvClient(server) as env:
            await env.reset(task="go-demo", seed=3)
            tests = await env.step(PerfAction(kind="tests"))
            bench = await env.step(PerfAction(kind="benchmarks", benchtime="20ms"))
            diff = await env.step(PerfAction(kind="git", args=["diff"]))
            state = await env.state()
            summary = bench.observation.bench_summary["BenchmarkSumColumns allocs/op"]
            return (
                diff.observation.stdout,
                str(state.episode_id),
                summary["mean"] > 100 and (tests.observation.exit_code == 0),
            )

    async def both() -> tuple[tuple[str, float], tuple[str, str, bool]]:
        return await asyncio.gather(fixing(), looking())

    (fixed_diff, reward), (other_diff, other_id, other_ok) = asyncio.run(both())
    assert "appendFields(buf[:0], line)" in fixed_diff and reward > 0
    assert other_diff == "" and other_ok  # the other episode kept the baseline's code
    assert other_id


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, "no such task file"),
        ("[[task]]\nname = 'x'\n", "task.0.repo: Field required"),
        ("[[task]]\nname = 'x'\nrepo = 'a'\n[[task]]\nname = 'x'\nrepo = 'b'\n", "appears twice"),
    ],
)
def test_a_bad_task_file_is_one_line(tmp_path: Path, text: str | None, expected: str) -> None:
    tasks = tmp_path / "tasks.toml"
    if text is not None:
        tasks.write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "perfsup", "env", "serve", "--tasks", str(tasks), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert expected in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_the_readme_client_example_runs(server: str, capsys: pytest.CaptureFixture[str]) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## As a reinforcement-learning environment (OpenEnv)\n", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found, "README: no python block in the OpenEnv section"
    code = found[1].replace("http://127.0.0.1:8000", server)
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out
    reward = re.search(r"^reward (\S+) interval \[(\S+), (\S+)\]$", printed, re.M)
    assert reward, printed
    assert float(reward[1]) > 0 and float(reward[2]) > 0
    assert "tests pass" in printed and "allocs/op" in printed


TAMPER = """DESCRIPTION: rewrite the tests from inside the package
linestat.go
<<<<<<< SEARCH
import "strings"
=======
import (
	"os"
	"strings"
)

func init() { _ = os.WriteFile("linestat_test.go", []byte("package linestat\\n"), 0o644) }
>>>>>>> REPLACE
"""


def test_code_that_rewrites_a_protected_file_is_rejected(server: str) -> None:
    with PerfEnvClient(server).sync() as env:
        env.reset(task="go-demo", seed=4)
        step = env.step(PerfAction(kind="patch", patch=TAMPER))
        assert step.observation.verdict == "rejected" and step.reward < 0
        assert "linestat_test.go" in step.observation.message
        status = env.step(PerfAction(kind="git", args=["status", "--short"])).observation
        assert "linestat_test.go" not in status.stdout  # put back as the commit has it


def test_perf_mem_says_when_the_machine_cannot_sample_memory(server: str) -> None:
    with PerfEnvClient(server).sync() as env:
        env.reset(task="go-demo", seed=5)
        perf = env.step(PerfAction(kind="perf", mode="mem")).observation
        assert perf.reward == 0
        if NO_COUNTERS in perf.perf_summary:  # this machine: callgrind's simulated caches
            assert "callgrind counted instead" in perf.perf_summary
            assert "D1mr:" in perf.perf_summary and "Ir:" in perf.perf_summary
        else:
            assert "perf mem report" in perf.perf_summary
        assert not env.step(PerfAction(kind="git", args=["status", "--short"])).observation.stdout


def test_a_task_without_a_usable_config_ends_its_reset_with_one_line(tmp_path: Path) -> None:
    from perfsup.env.environment import PerfEnvironment
    from perfsup.env.episode import TaskHub
    from perfsup.env.tasks import EnvTask
    from tests.helpers import make_repo

    repo = make_repo(tmp_path / "repo", {"main.go": "package main\n"})
    hub = TaskHub({"bare": EnvTask(name="bare", repo=str(repo))}, tmp_path / "work")
    env = PerfEnvironment(hub)
    start = env.reset()
    assert start.done and "no such config file" in start.message
    assert not list((tmp_path / "work" / "worktrees").iterdir())  # nothing left behind
    unknown = env.reset(task="other")
    assert unknown.done and "unknown task 'other' (expected one of: bare)" in unknown.message
    assert env.step(PerfAction(kind="tests")).message == "no episode: reset first"
