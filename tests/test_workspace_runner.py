"""The command runner with real subprocesses: logs, exit codes, tree killing."""

from __future__ import annotations

import contextlib
import shlex
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from perfsup.workspace.executor import Executor, LocalExecutor
from perfsup.workspace.runner import STDOUT_KEEP_CHARS, CommandResult, run_command
from tests.helpers import returns_in_time, wait_until

PY = shlex.quote(sys.executable)

# A python child that forks twice: one child stays in the group, one escapes
# with setsid() into its own session; the escaped one forks a grandchild and
# exits after a while, orphaning it (the hardest case to find). Every pid is
# appended to the pid file given as argv[1].
FORKER = r"""
import os, sys, time
pids = open(sys.argv[1], "a")
def note():
    pids.write(f"{os.getpid()}\n"); pids.flush()
note()
if os.fork() == 0:
    note(); time.sleep(300); os._exit(0)
if os.fork() == 0:
    os.setsid(); note()
    if os.fork() == 0:
        note(); time.sleep(300); os._exit(0)
    time.sleep(0.8); os._exit(0)
time.sleep(300)
"""


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _read_pids(path: Path) -> list[int]:
    if not path.exists():
        return []
    return [int(x) for x in path.read_text().split()]


@pytest.fixture
def pidfile(tmp_path: Path) -> Iterator[Path]:
    """A file the commands write their pids to; survivors are killed afterwards."""
    path = tmp_path / "pids"
    yield path
    for pid in _read_pids(path):
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).kill()


def _run(
    tmp_path: Path,
    command: str,
    timeout_s: float = 10.0,
    *,
    env: dict[str, str] | None = None,
    on_line: Callable[[str, str], None] | None = None,
) -> CommandResult:
    log = tmp_path / "logs" / "cmd.log"
    return run_command(command, tmp_path, log, timeout_s, env=env, on_line=on_line)


def test_exit_codes_and_output(tmp_path: Path) -> None:
    ok = _run(tmp_path, "echo hello; echo 'METRIC t=1.5'")
    assert ok.exit_code == 0 and ok.ok
    assert not ok.timed_out and not ok.cancelled
    assert ok.stdout == "hello\nMETRIC t=1.5\n"
    assert _run(tmp_path, "exit 1").exit_code == 1
    assert _run(tmp_path, "false").exit_code == 1
    assert _run(tmp_path, "exit 42").exit_code == 42
    # A syntax error is a failing command, not an exception.
    assert _run(tmp_path, "if then fi").exit_code not in (0, None)


def test_stderr_goes_to_log_and_on_line(tmp_path: Path) -> None:
    lines: list[tuple[str, str]] = []
    res = _run(
        tmp_path,
        "echo out1; echo err1 >&2; printf 'no newline at end'; exit 3",
        on_line=lambda stream, line: lines.append((stream, line)),
    )
    assert res.exit_code == 3
    log = res.log_path.read_text()
    assert "out1\n" in log and "err1\n" in log and "no newline at end\n" in log
    assert "exit 3" in log.splitlines()[-1]
    assert ("out", "out1") in lines and ("err", "err1") in lines
    assert ("out", "no newline at end") in lines
    assert "err1" not in res.stdout  # stdout is only stdout


def test_log_is_appended_and_parents_created(tmp_path: Path) -> None:
    log = tmp_path / "a" / "b" / "c.log"
    run_command("echo one", tmp_path, log, 10)
    run_command("echo two", tmp_path, log, 10)
    text = log.read_text()
    assert text.index("one") < text.index("two")
    assert text.count("--- perfsup: $") == 2


def test_env_is_added_to_the_environment(tmp_path: Path) -> None:
    res = _run(
        tmp_path,
        'echo "$PERFSUP_TEST_VAR"; command -v sh >/dev/null && echo path-ok',
        env={"PERFSUP_TEST_VAR": "hello-env"},
    )
    assert res.stdout.splitlines() == ["hello-env", "path-ok"]


def test_runs_in_cwd_and_missing_cwd_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "marker").write_text("x")
    assert "marker" in _run(tmp_path, "ls").stdout
    with pytest.raises(FileNotFoundError, match="does not exist"):
        run_command("true", tmp_path / "nope", tmp_path / "x.log", 5)


def test_stdin_is_closed(tmp_path: Path) -> None:
    # `cat` would block forever on an inherited terminal.
    res = _run(tmp_path, "cat; echo after", timeout_s=5)
    assert res.exit_code == 0 and res.stdout == "after\n"


def test_stdout_keeps_only_the_tail(tmp_path: Path) -> None:
    script = "import sys\nfor i in range(120000): sys.stdout.write('x' * 60 + f' {i}\\n')\n"
    (tmp_path / "big.py").write_text(script)
    res = _run(tmp_path, f"{PY} big.py; echo 'METRIC last=1'")
    assert res.exit_code == 0
    assert len(res.stdout) <= STDOUT_KEEP_CHARS
    assert res.stdout.endswith(" 119999\nMETRIC last=1\n")
    assert res.log_path.stat().st_size > STDOUT_KEEP_CHARS  # the log keeps everything


def test_log_line_visible_while_running_and_cancel(tmp_path: Path) -> None:
    log = tmp_path / "live.log"
    cancel = threading.Event()
    box: list[CommandResult] = []
    t = threading.Thread(
        target=lambda: box.append(
            run_command("echo first-line; sleep 60", tmp_path, log, 60, cancel=cancel)
        )
    )
    t.start()
    try:
        wait_until(
            lambda: log.exists() and "first-line" in log.read_text(),
            what="the first line in the log",
            timeout=10,
        )
        assert t.is_alive()  # seen while the command is still running
    finally:
        cancel.set()
        t.join(10)
    assert not t.is_alive()
    res = box[0]
    assert res.cancelled and not res.timed_out and res.exit_code is None
    assert "cancelled" in log.read_text().splitlines()[-1]


def test_timeout_kills_whole_tree_including_escaped(tmp_path: Path, pidfile: Path) -> None:
    (tmp_path / "forker.py").write_text(FORKER)
    command = (
        f"sleep 300 & echo $! >> {pidfile}; "
        f"(sleep 300 & echo $! >> {pidfile}; wait) & "
        f"{PY} forker.py {pidfile} & "
        f"echo $$ >> {pidfile}; echo started; wait"
    )
    t0 = time.monotonic()
    # The tree sleeps 300 s: returning at all means it was killed at the timeout.
    res = returns_in_time(lambda: _run(tmp_path, command, timeout_s=1.5), what="a timed-out run")
    elapsed = time.monotonic() - t0
    assert res.timed_out and not res.cancelled and res.exit_code is None
    assert elapsed > 1.4  # not before its timeout
    assert "started" in res.stdout
    assert "timed out" in res.log_path.read_text().splitlines()[-1]
    pids = _read_pids(pidfile)
    assert len(pids) == 7  # shell, 2 sleeps, python, its 2 children, escaped grandchild
    wait_until(
        lambda: not any(_alive(p) for p in pids),
        what="every process of the tree gone",
        timeout=10,
        detail=lambda: [p for p in pids if _alive(p)],
    )


def test_sigterm_ignored_gets_sigkill(tmp_path: Path, pidfile: Path) -> None:
    command = f"trap '' TERM; echo $$ >> {pidfile}; while :; do sleep 0.05; done"
    # The loop never ends by itself: returning at all means SIGKILL followed.
    res = returns_in_time(lambda: _run(tmp_path, command, timeout_s=0.5), what="the run")
    assert res.timed_out
    assert not any(_alive(p) for p in _read_pids(pidfile))


def test_background_child_killed_after_normal_exit(tmp_path: Path, pidfile: Path) -> None:
    # The background sleep also holds the stdout pipe: we must not wait for it.
    res = returns_in_time(  # before the 300 s sleep ends
        lambda: _run(tmp_path, f"sleep 300 & echo $! >> {pidfile}; echo done"), what="the run"
    )
    assert res.exit_code == 0 and res.stdout == "done\n"
    pids = _read_pids(pidfile)
    assert len(pids) == 1
    wait_until(lambda: not _alive(pids[0]), what="the background sleep killed", timeout=10)


def test_pipe_held_by_escaped_process_does_not_hang(tmp_path: Path, pidfile: Path) -> None:
    # setsid puts the sleep outside the group; it keeps stdout open for 300 s.
    res = returns_in_time(
        lambda: _run(tmp_path, f"setsid sleep 300 & echo $! >> {pidfile}; echo bye"),
        what="the run",
    )
    assert res.exit_code == 0 and "bye" in res.stdout


def test_output_closed_but_still_running_times_out(tmp_path: Path) -> None:
    res = _run(tmp_path, "exec >/dev/null 2>&1; sleep 30", timeout_s=0.7)
    assert res.timed_out and res.exit_code is None  # not the sleep's own end, 30 s later


def test_local_executor_is_an_executor(tmp_path: Path) -> None:
    ex = LocalExecutor()
    assert isinstance(ex, Executor)
    res = ex.run("echo via-executor", tmp_path, tmp_path / "e.log", 10)
    assert res.exit_code == 0 and res.stdout == "via-executor\n"
