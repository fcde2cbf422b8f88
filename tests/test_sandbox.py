"""The sandbox executor on real commands: environment, writes, network, limits."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from perfsup.config.model import SandboxSettings
from perfsup.workspace.executor import LocalExecutor
from perfsup.workspace.sandbox import SandboxExecutor, detect_isolation

HAS_BWRAP = detect_isolation(SandboxSettings(kind="bwrap")).kind == "bwrap"
HAS_UNSHARE = detect_isolation(SandboxSettings(kind="unshare")).kind == "unshare"


def box(tmp_path: Path, **settings: object) -> tuple[SandboxExecutor, Path, list[str]]:
    said: list[str] = []
    work = tmp_path / "run" / "worktrees" / "1.1"
    work.mkdir(parents=True)
    executor = SandboxExecutor(
        LocalExecutor(),
        SandboxSettings.model_validate(settings),
        [tmp_path / "run"],
        report=said.append,
    )
    return executor, work, said


def test_only_basic_and_configured_variables_pass(tmp_path: Path) -> None:
    executor, work, _ = box(tmp_path, kind="none", pass_env=["PASS_ME"])
    env = {"PATH": "/usr/bin:/bin", "SECRET_TOKEN": "x", "PASS_ME": "yes", "PERFSUP_RUN_DIR": "r"}
    result = executor.run("env", work, tmp_path / "env.log", 10, env=env)
    assert result.ok
    assert "PASS_ME=yes" in result.stdout and "PERFSUP_RUN_DIR=r" in result.stdout
    assert "SECRET_TOKEN" not in result.stdout


def test_no_isolation_says_so(tmp_path: Path) -> None:
    executor, _, said = box(tmp_path, kind="none")
    assert executor.isolation.kind == "none"
    assert said and "isolation is OFF" in said[0]
    assert "OFF" in executor.isolation.description


def test_resource_limits_apply(tmp_path: Path) -> None:
    executor, work, _ = box(tmp_path, kind="none", file_mb=1, memory_mb=256)
    big = executor.run("head -c 3000000 /dev/zero > big", work, tmp_path / "f.log", 10)
    assert not big.ok and (work / "big").stat().st_size <= 1024 * 1024
    hog = executor.run("python -c 'bytearray(1024 * 1024 * 1024)'", work, tmp_path / "m.log", 10)
    assert not hog.ok and "MemoryError" in (tmp_path / "m.log").read_text()


@pytest.mark.skipif(not HAS_BWRAP, reason="needs a working bubblewrap")
def test_bwrap_lets_a_command_write_only_its_worktree(tmp_path: Path) -> None:
    executor, work, _ = box(tmp_path, kind="bwrap")
    (tmp_path / "run" / "perfsup.db").write_text("store\n")
    victim = Path.home() / ".perfsup-sandbox-test"
    try:
        result = executor.run(
            f"touch inside && touch {victim} && ls -a ../.. && touch ../../made-in-run",
            work,
            tmp_path / "w.log",
            10,
        )
        assert not result.ok
        log = (tmp_path / "w.log").read_text()
        assert "Read-only file system" in log
        assert "perfsup.db" not in log  # the store is not even visible
        assert (work / "inside").exists() and not (tmp_path / "run" / "made-in-run").exists()
        assert not victim.exists()  # the home folder is private
    finally:
        victim.unlink(missing_ok=True)


@pytest.mark.skipif(not HAS_BWRAP, reason="needs a working bubblewrap")
def test_bwrap_hides_host_secrets_and_sockets(tmp_path: Path) -> None:
    # sockets allowed: this checks the private folder itself, not the seccomp filter
    executor, work, _ = box(tmp_path, kind="bwrap", unix_sockets=True)
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "s.sock"))
        server.listen()
        probe = (
            "wc -c < /etc/shadow; id -u; "
            "python -c 'import socket; "
            f'socket.socket(socket.AF_UNIX).connect("{tmp_path}/s.sock")\''
        )
        result = executor.run(probe, work, tmp_path / "s.log", 10)
    log = (tmp_path / "s.log").read_text()
    assert not result.ok and "FileNotFoundError" in log  # the socket's folder is private
    assert "root:" not in log
    if "unprivileged user" not in executor.isolation.description:
        assert "65534" in log  # nobody, in its own user namespace


UNIX_PROBE = (
    'python -c \'import socket; socket.socket(socket.AF_UNIX).connect("s.sock"); print("REACHED")\''
)


@pytest.mark.skipif(not HAS_BWRAP, reason="needs a working bubblewrap")
def test_a_socket_the_box_can_see_cannot_be_opened(tmp_path: Path) -> None:
    """A read-only bind does not stop connect(): the seccomp filter refuses the socket."""
    for allowed in (False, True):
        executor, work, _ = box(tmp_path / str(allowed), kind="bwrap", unix_sockets=allowed)
        if not allowed and executor.isolation.socket_filter is None:
            pytest.skip("libseccomp is not installed here: " + executor.isolation.description)
        log = tmp_path / f"{allowed}.log"
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(str(work / "s.sock"))  # in the step's own worktree: visible
            server.listen()
            result = executor.run(UNIX_PROBE, work, log, 10)
        if allowed:  # the probe itself works: the refusal below is the filter's
            assert result.ok and "\nREACHED\n" in log.read_text()
            assert "Unix-socket filter" in executor.isolation.description
        else:
            assert not result.ok and "PermissionError" in log.read_text()
            assert "\nREACHED\n" not in log.read_text()  # (the command line names it)
            assert "Unix-socket filter" not in executor.isolation.description


@pytest.mark.skipif(not HAS_BWRAP, reason="needs a working bubblewrap")
def test_a_box_keeps_pipes_sockets_pairs_and_the_loopback(tmp_path: Path) -> None:
    """What interpreters and test runners use between their own processes still works."""
    executor, work, _ = box(tmp_path, kind="bwrap")
    probe = (
        "python -c 'import socket, subprocess; a, b = socket.socketpair(); "
        'a.send(b"x"); print("pair", b.recv(1)); '
        's = socket.create_server(("127.0.0.1", 0)); print("tcp ok"); '
        'print(subprocess.run(["echo", "child"], capture_output=True).stdout)\''
    )
    result = executor.run(probe, work, tmp_path / "p.log", 10)
    log = (tmp_path / "p.log").read_text()
    assert result.ok, log
    assert "pair b'x'" in log and "tcp ok" in log and "child" in log


@pytest.mark.skipif(not HAS_BWRAP, reason="needs a working bubblewrap")
def test_protected_files_are_read_only_inside_the_step_scope(tmp_path: Path) -> None:
    from perfsup.workspace.confine import StepScope, step_scope

    executor, work, _ = box(tmp_path, kind="bwrap")
    (work / "bench.sh").write_text("echo fair\n")
    with step_scope(StepScope(readonly=(work / "bench.sh",))):
        result = executor.run("echo faked > bench.sh", work, tmp_path / "p.log", 10)
        moved = executor.run("mv bench.sh b.sh", work, tmp_path / "m.log", 10)
    assert not result.ok and "Read-only file system" in (tmp_path / "p.log").read_text()
    assert not moved.ok and (work / "bench.sh").read_text() == "echo fair\n"


@pytest.mark.skipif(not HAS_UNSHARE, reason="needs unshare -rn")
def test_unshare_cuts_the_network(tmp_path: Path) -> None:
    executor, work, _ = box(tmp_path, kind="unshare")
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        probe = f"python -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), 2)'"
        result = executor.run(probe, work, tmp_path / "n.log", 10)
        assert not result.ok
        allowed, _, _ = box(tmp_path / "open", kind="unshare", network=True)
        assert allowed.run(probe, work, tmp_path / "n2.log", 10).ok


@pytest.mark.skipif(not HAS_BWRAP, reason="needs a working bubblewrap")
def test_a_writable_path_around_the_run_directory_keeps_the_run_hidden(tmp_path: Path) -> None:
    executor, work, _ = box(tmp_path, kind="bwrap", writable_paths=[str(tmp_path)])
    (tmp_path / "run" / "perfsup.db").write_text("store\n")
    result = executor.run(
        "touch ../../../cache-entry && cat ../../perfsup.db", work, tmp_path / "c.log", 10
    )
    assert not result.ok and "No such file" in (tmp_path / "c.log").read_text()
    assert (tmp_path / "cache-entry").exists()  # the configured folder is writable


def test_the_status_line_names_the_protections_that_are_off(tmp_path: Path) -> None:
    executor, _, _ = box(tmp_path, kind="none", network=True)
    text = executor.isolation.description
    assert "protections OFF" in text
    assert "network" in text and "filesystem confinement" in text and "host secrets" in text
