"""The engine as a background process: `perfsup run` detaches it, `ctl`,
`status`, `attach` and `stop` talk to it, one engine per run directory, and
a headless engine survives its terminal closing. Real processes throughout."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import signal
import subprocess
import sys
import termios
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from perfsup.engine.lock import lock_holder
from perfsup.store import Event, Node, Run, open_store
from tests.helpers import holds_throughout, make_repo, wait_until
from tests.test_engine_commands import APP, BENCH, NO_GAINS


def perfsup(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "perfsup", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


class Target:
    def __init__(self, tmp_path: Path, sandbox: str = "auto") -> None:
        self.hold = tmp_path / "hold"
        self.hold.write_text("hold")
        # the hold keeps experiments benchmarking; the preflight's runs go through
        bench = BENCH.format(delay=self.hold).replace(
            "while [ -e", 'while [ "${PWD##*/}" != preflight ] && [ -e'
        )
        make_repo(tmp_path / "repo", {"src/app.py": APP, "bench.sh": bench})
        (tmp_path / "answers.toml").write_text(
            "".join(f"[[answer]]\ntext = '''\n{a}'''\n\n" for a in NO_GAINS[:3])
        )
        self.config = tmp_path / "perfsup.toml"
        self.run_dir = tmp_path / "run"
        self.config.write_text(
            textwrap.dedent(
                """
                [target]
                repo = "repo"
                goal = "lower the cost"
                [bench]
                run = "bash bench.sh"
                pairs = 3
                warmup = 0
                [[metrics]]
                name = "t"
                [access]
                writable = ["src"]
                protected = ["bench.sh"]
                [model]
                backend = "scripted"
                script = "answers.toml"
                [budgets]
                max_experiments = 2
                [sandbox]
                kind = "{kind}"
                writable_paths = ["{tmp}"]
                """
            ).format(kind=sandbox, tmp=tmp_path)
        )

    @property
    def opts(self) -> list[str]:
        return ["-c", str(self.config), "--run-dir", str(self.run_dir)]

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return perfsup("ctl", *args, *self.opts)

    def node_status(self, node_id: str) -> str | None:
        if lock_holder(self.run_dir) is None and not (self.run_dir / "perfsup.db").exists():
            return None
        # Read only: the engine creates and migrates the store (a reader that
        # migrated a brand-new store at the same moment would race it).
        store = open_store(self.run_dir / "perfsup.db", migrate=False)
        try:
            with store.session() as s:
                node = s.get(Node, node_id)
                return node.status if node else None
        except OperationalError:  # the engine is still creating the tables
            return None
        finally:
            store.close()

    def run_row(self) -> Run:
        store = open_store(self.run_dir / "perfsup.db", migrate=False)
        try:
            with store.session() as s:
                run = s.get(Run, 1)
                assert run is not None
                return run
        finally:
            store.close()


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Target]:
    made = Target(tmp_path)
    yield made
    made.hold.unlink(missing_ok=True)
    pid = lock_holder(made.run_dir)
    if pid is not None and pid > 0:  # never leave an engine behind
        os.kill(pid, signal.SIGKILL)


def _ctrl_c_as_from_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_run_detaches_and_ctl_status_stop_drive_the_engine(target: Target) -> None:
    launcher = subprocess.Popen(
        [sys.executable, "-m", "perfsup", "run", *target.opts],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        # As from a terminal: a suite started in the background (`cmd &` in a script,
        # as CI may) ignores SIGINT, the launcher would inherit that and never see Ctrl-C.
        preexec_fn=_ctrl_c_as_from_a_terminal,
    )
    try:
        wait_until(lambda: target.node_status("1.1") == "benchmarking", what="1.1 benchmarking")
        pid = lock_holder(target.run_dir)
        assert pid is not None and pid != launcher.pid
        assert os.getsid(pid) != os.getsid(0)  # its own session: no terminal reaches it
        launcher.send_signal(signal.SIGINT)  # Ctrl-C only detaches
        try:
            out, _ = launcher.communicate(timeout=60)
        except subprocess.TimeoutExpired:  # seen twice in CI, never alone: say what ran
            launcher.kill()
            out, _ = launcher.communicate()
            ps = ["ps", "-eo", "pid,ppid,stat,etime,pcpu,args"]
            procs = subprocess.run(ps, capture_output=True, text=True, check=False).stdout
            pytest.fail(f"the launcher outlived Ctrl-C by 60 s; it printed:\n{out}\n{procs}")
        assert "detached; the engine keeps running" in out
        assert lock_holder(target.run_dir) == pid

        second = perfsup("run", "--headless", *target.opts)
        assert second.returncode == 1
        assert f"an engine (pid {pid}) is already running" in second.stderr

        paused = target.ctl("pause")
        assert paused.returncode == 0, paused.stderr
        assert paused.stdout.startswith("pause: paused")
        wait_until(lambda: target.run_row().engine_state == "paused", what="paused", timeout=5)
        again = target.ctl("pause")
        assert again.returncode == 1 and "already paused" in again.stderr

        status = perfsup("status", *target.opts)
        assert f"engine: paused (pid {pid})" in status.stdout

        prio = target.ctl("priority", "1.1", "3")  # not the baseline's (issue 18)
        assert prio.returncode == 0 and "priority of 1.1 set to 3" in prio.stdout
        base = target.ctl("priority", "1", "3")
        assert base.returncode == 1 and "1 is the baseline" in base.stderr
        bad = target.ctl("budgets", "max_experiments")
        assert bad.returncode == 2 and "is not KEY=VALUE" in bad.stderr

        stopped = perfsup("stop", *target.opts)
        assert stopped.returncode == 0, stopped.stderr
        wait_until(lambda: lock_holder(target.run_dir) is None, what="engine gone", timeout=10)
        assert target.run_row().status == "stopped"
        assert target.node_status("1.1") == "cancelled"
        status = perfsup("status", *target.opts)
        assert "engine: not running" in status.stdout
        log = (target.run_dir / "engine.log").read_text()
        assert "command stop" in log
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()


def test_ctl_without_an_engine_says_so(target: Target) -> None:
    done = target.ctl("pause")
    assert done.returncode == 1
    assert "no engine is running" in done.stderr and "Traceback" not in done.stderr


def test_headless_engine_survives_its_terminal_closing(target: Target) -> None:
    master, slave = pty.openpty()

    def take_terminal() -> None:  # the pty becomes the controlling terminal, like a shell's
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    engine = subprocess.Popen(
        [sys.executable, "-m", "perfsup", "run", "--headless", *target.opts],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        preexec_fn=take_terminal,
    )
    os.close(slave)
    try:
        wait_until(lambda: target.node_status("1.1") == "benchmarking", what="1.1 benchmarking")
        os.close(master)  # the terminal goes away: the kernel hangs up the session
        holds_throughout(lambda: engine.poll() is None, what="the engine running after the hang-up")
        target.hold.unlink()
        wait_until(lambda: engine.poll() is not None, what="run finished", timeout=60)
        assert target.run_row().status == "finished"
        assert target.node_status("1.1") == "discarded"  # measured to the end
    finally:
        if engine.poll() is None:
            engine.kill()
            engine.wait()


def _bench_shells(run_dir: Path) -> list[psutil.Process]:
    """The shells running bench.sh, without their passing forks: a fork that is about
    to exec `sleep` still shows bash's command line for a moment (longer under load)."""
    from perfsup.engine.orphans import marked_processes

    found: dict[int, tuple[psutil.Process, int]] = {}
    for process in marked_processes(run_dir):
        with contextlib.suppress(psutil.Error):  # gone meanwhile
            if "bench.sh" in process.cmdline():
                found[process.pid] = (process, process.ppid())
    return [process for process, parent in found.values() if parent not in found]


def test_restart_after_kill_9_kills_the_dead_engines_processes(target: Target) -> None:

    # Without a sandbox: bubblewrap's pid namespace would take the strays down
    # with the engine, and this is the defence for machines without it.
    target.config.write_text(target.config.read_text().replace('kind = "auto"', 'kind = "none"'))
    argv = [sys.executable, "-m", "perfsup", "run", "--headless", *target.opts]
    first = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: target.node_status("1.1") == "benchmarking", what="1.1 benchmarking")
        strays = wait_until(  # the shell waiting on the hold file; its `sleep 0.05`s come and go
            lambda: _bench_shells(target.run_dir), what="a bench process"
        )
        # The engine's deathwatch would kill its commands with it: take it away
        # first, as on a machine without bash, to test the sweep on restart.
        for child in psutil.Process(first.pid).children():
            if "live=" in " ".join(child.cmdline()):
                child.kill()
                wait_until(lambda c=child: not _alive(c), what="the deathwatch gone")
        first.kill()
        first.wait()
        holds_throughout(  # the held bench outlived its engine
            lambda: all(p.is_running() for p in strays), what="the held bench running", seconds=0.3
        )
        second = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: target.node_status("1.1") == "interrupted", what="1.1 interrupted")
            assert not any(p.is_running() and p.status() != "zombie" for p in strays)
            store = open_store(target.run_dir / "perfsup.db", migrate=False)
            try:
                with store.session() as s:
                    events = s.exec(select(Event).where(Event.kind == "orphans_killed")).all()
            finally:
                store.close()
            assert len(events) == 1 and str(strays[0].pid) in events[0].message
        finally:
            second.kill()
            second.wait()
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()


def _alive(proc: psutil.Process) -> bool:
    """Running and not a zombie (a killed child its parent has not reaped yet)."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
