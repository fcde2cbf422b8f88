"""The hostile-edit corpus (tests/data/hostile): every answer is refused before
it is applied or contained by the sandbox, and the engine goes on to the end.
Runs the real CLI engine with the real sandbox (bubblewrap where it works)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from perfsup.config.model import SandboxSettings
from perfsup.engine.orphans import marked_processes
from perfsup.workspace.sandbox import detect_isolation
from tests.helpers import git, make_repo

DATA = Path(__file__).parent / "data" / "hostile"
CHECK = "python -c 'import sys; sys.path.insert(0, \"src\"); import app; app.check()'"
BENCH = "python -c 'import sys; sys.path.insert(0, \"src\"); import app; app.bench()'\n"


def listen() -> tuple[socket.socket, list[int], threading.Event]:
    """A TCP listener on 127.0.0.1 that counts the connections it gets."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    accepted: list[int] = []
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(1)
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return server, accepted, done


@pytest.mark.skipif(
    detect_isolation(SandboxSettings()).kind != "bwrap", reason="needs a working bubblewrap"
)
def test_hostile_answers_are_refused_or_contained(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("outside\n")
    repo = make_repo(
        tmp_path / "repo",
        {"src/app.py": (DATA / "app.py").read_text(), "bench.sh": BENCH, "README.md": "readme\n"},
    )
    os.symlink("../../outside.txt", repo / "src" / "link.txt")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "link")
    shutil.copy(DATA / "answers.toml", tmp_path / "answers.toml")
    config = tmp_path / "perfsup.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            [target]
            repo = "repo"
            goal = "make it faster"
            [check]
            run = '''{CHECK}'''
            timeout_s = 5
            [bench]
            run = "bash bench.sh"
            timeout_s = 10
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
            max_retries = 0
            [budgets]
            max_children = 100
            max_failures_in_a_row = 100
            [sandbox]
            memory_mb = 1024
            processes = 64
            pass_env = ["HOSTILE_PORT", "HOSTILE_OUTSIDE"]
            """
        )
    )
    server, accepted, done = listen()
    owned = tmp_path / "owned.txt"
    env = {
        **os.environ,
        "HOSTILE_PORT": str(server.getsockname()[1]),
        "HOSTILE_OUTSIDE": str(owned),
    }
    run_dir = tmp_path / "run"
    try:
        argv = ["run", "--headless", "-c", str(config), "--run-dir", str(run_dir)]
        engine = subprocess.run(
            [sys.executable, "-m", "perfsup", *argv],
            capture_output=True,
            text=True,
            env=env,
            timeout=240,
        )
    finally:
        done.set()
        server.close()
    assert engine.returncode == 0, engine.stdout + engine.stderr
    with sqlite3.connect(run_dir / "perfsup.db") as con:
        rows = dict(con.execute("SELECT id, status || ': ' || coalesce(reason, '') FROM node"))
        run = con.execute("SELECT status, stop_reason FROM run").fetchone()

    def status(node_id: str) -> str:
        return rows[node_id].split(":")[0]

    for node_id in ("1.1", "1.2", "1.3", "1.4", "1.5"):
        assert status(node_id) == "rejected", rows[node_id]
    assert "protected" in rows["1.1"]
    assert "outside" in rows["1.4"] or "symlink" in rows["1.4"], rows["1.4"]
    assert outside.read_text() == "outside\n"  # nothing reached it

    assert status("1.6") == "discarded"  # the forked helper is gone (checked below)
    assert status("1.7") == "checks_failed" and not accepted  # no connection got out
    # Refused (read-only) or swallowed by the box's private /tmp: never on the host.
    assert status("1.8") in ("checks_failed", "discarded") and not owned.exists()
    assert status("1.9") == "checks_failed" and "MemoryError" in rows["1.9"]
    # The fork bomb ran into the process limit (bash gives up after its retries;
    # the check's timeout would end it otherwise) and took nothing else down.
    bomb_log = (run_dir / "logs" / "1.10" / "check.log").read_text()
    assert "fork: retry: Resource temporarily unavailable" in bomb_log
    assert status("1.10") in ("timeout", "checks_failed", "discarded"), rows["1.10"]

    assert run == ("finished", run[1]) and "no answers left" in run[1]
    assert not marked_processes(run_dir)  # nothing outlived its command


# ---------------------------------------------------------------- commands
# Harm done by the commands the model's code runs (tests/data/hostile/harms.py):
# each answer passes the access rules and edits check() or bench() to call one
# harm. Every case asserts: the node is not kept, its reason names what
# happened, nothing outside the box changed, and the engine went on to the end.


@dataclass(frozen=True)
class Case:
    harm: str
    reasons: tuple[str, ...]  # one of these is in the node's reason ("" for any)
    step: str = "check"
    statuses: tuple[str, ...] = ("rejected", "checks_failed")


NOT_FOUND = "No such file or directory"
READ_ONLY = "Read-only file system"
CASES = [
    # escape: git config tricks through a replaced .git, the user's repository
    Case("git_fsmonitor", ("tampered with .git",)),
    Case("git_hooks", ("tampered with .git",)),
    Case("git_filter_include", ("tampered with .git",)),
    Case("git_ssh_command", ("tampered with .git",)),
    Case("main_repo_config", (NOT_FOUND, READ_ONLY)),
    # escape: symlinks, ../ and absolute paths
    Case("symlink_out", (NOT_FOUND, READ_ONLY)),
    Case("parent_tree_relative", (NOT_FOUND, READ_ONLY, "tampered with 1/")),
    Case("absolute_path", (NOT_FOUND, READ_ONLY)),
    # tampering: protected files, the parent's tree, store, overrides, logs, other trees
    Case("protected_bench", (READ_ONLY, "tampered with bench.sh")),
    Case("protected_bench_by_rename", ("Device or resource busy", "tampered with bench.sh")),
    Case(
        "protected_in_bench",
        ("benchmark exited", "tampered with bench.sh"),
        "bench",
        ("rejected", "crashed"),
    ),
    Case("parent_tree", (NOT_FOUND, READ_ONLY, "tampered with 1/")),
    Case("store_and_overrides", (NOT_FOUND, READ_ONLY)),
    Case("logs", (NOT_FOUND, READ_ONLY)),
    Case("other_worktree", (NOT_FOUND, READ_ONLY)),
    # leaks: host secrets, hidden files, sockets, network, DNS
    Case("host_shadow", ("leak: ", "Permission denied")),
    Case("home_secrets", (NOT_FOUND,)),
    Case("hidden_file", (NOT_FOUND,)),
    Case("unix_socket", (NOT_FOUND, "Connection refused", "Permission denied")),
    Case("dns", ("gaierror",)),
    Case("network", ("Network is unreachable", "Connection refused")),
    # resources: time, disk, output (fork, memory and strays: the edit corpus above)
    Case("busy_loop", ("did not finish within",), statuses=("timeout",)),
    Case("big_file", ("File too large",)),
    Case("flood_output", ("",), statuses=("discarded",)),
]
SECRETS = ("SECRET-HIDDEN", "SECRET-GITCONFIG", "SECRET-SSH", "SECRET-RC", "INJECTED")


def hostile_answer(case: Case) -> str:
    body = 'print("ok")' if case.step == "check" else 'print("METRIC t=1")'
    return textwrap.dedent(
        f"""
        DESCRIPTION: {case.harm.replace("_", " ")}
        src/app.py
        <<<<<<< SEARCH
        def {case.step}():
            {body}
        =======
        def {case.step}():
            import harms
            harms.{case.harm}()
            {body}
        >>>>>>> REPLACE
        """
    )


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (symlinks as their text), for a before/after comparison."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            found[str(path)] = os.readlink(path).encode()
        elif path.is_file():
            found[str(path)] = path.read_bytes()
    return found


def run_hostile(tmp_path: Path, cases: list[Case], kind: str) -> tuple[dict[str, str], Path]:
    """Run the engine over `cases` with sandbox `kind`; node id -> "status: reason"."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".gitconfig").write_text("[user]\n\tname = SECRET-GITCONFIG\n")
    (home / ".ssh" / "id_rsa").write_text("SECRET-SSH\n")
    (home / ".bashrc").write_text("# SECRET-RC\n")
    canary = tmp_path / "canary"
    canary.mkdir()
    (canary / "data.txt").write_text("canary\n")
    repo = make_repo(
        tmp_path / "repo",
        {
            "src/app.py": (DATA / "app.py").read_text(),
            "src/harms.py": (DATA / "harms.py").read_text(),
            "secret/key.txt": "SECRET-HIDDEN\n",
            "bench.sh": BENCH,
        },
    )
    answers = [{"text": hostile_answer(case)} for case in cases]
    (tmp_path / "answers.toml").write_text(
        "".join(f"[[answer]]\ntext = '''{a['text']}'''\n\n" for a in answers)
    )
    config = tmp_path / "perfsup.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            [target]
            repo = "repo"
            goal = "make it faster"
            [check]
            run = '''{CHECK}'''
            timeout_s = 5
            [bench]
            run = "bash bench.sh"
            timeout_s = 10
            pairs = 3
            warmup = 0
            [[metrics]]
            name = "t"
            [access]
            writable = ["src"]
            protected = ["bench.sh"]
            hidden = ["secret"]
            [model]
            backend = "scripted"
            script = "answers.toml"
            max_retries = 0
            [budgets]
            max_children = 100
            max_failures_in_a_row = 100
            pause_after_failures = 100
            [sandbox]
            kind = "{kind}"
            memory_mb = 1024
            processes = 64
            file_mb = 16
            pass_env = ["HOSTILE_PORT", "HOSTILE_OUTSIDE", "HOSTILE_CANARY", "HOSTILE_REPO",
                        "HOSTILE_SOCK"]
            """
        )
    )
    server, accepted, done = listen()
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(str(tmp_path / "s.sock"))
    unix.listen()
    unix.settimeout(0)
    owned = tmp_path / "owned.txt"
    env = {
        **os.environ,
        "HOME": str(home),
        "HOSTILE_PORT": str(server.getsockname()[1]),
        "HOSTILE_OUTSIDE": str(owned),
        "HOSTILE_CANARY": str(canary),
        "HOSTILE_REPO": str(repo),
        "HOSTILE_SOCK": str(tmp_path / "s.sock"),
    }
    before_repo = snapshot(repo / ".git") | {"HEAD": git(repo, "rev-parse", "HEAD").encode()}
    before_home, before_canary = snapshot(home), snapshot(canary)
    run_dir = tmp_path / "run"
    try:
        argv = ["run", "--headless", "-c", str(config), "--run-dir", str(run_dir)]
        engine = subprocess.run(
            [sys.executable, "-m", "perfsup", *argv],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )
        with contextlib.suppress(BlockingIOError):
            unix.accept()
            pytest.fail("a command reached the Unix socket")
    finally:
        done.set()
        server.close()
        unix.close()
    assert engine.returncode == 0, engine.stdout + engine.stderr
    with sqlite3.connect(run_dir / "perfsup.db") as con:
        rows = dict(con.execute("SELECT id, status || ': ' || coalesce(reason, '') FROM node"))
        run = con.execute("SELECT status, stop_reason, goal FROM run").fetchone()
    # the engine went on to the end of the answers, nothing reached the host
    assert run[0] == "finished" and "no answers left" in run[1], run
    assert run[2] == "make it faster"  # the store was not rewritten
    assert not owned.exists(), owned.read_text()
    assert not accepted
    assert snapshot(canary) == before_canary
    assert snapshot(home) == before_home
    repo_now = snapshot(repo / ".git") | {"HEAD": git(repo, "rev-parse", "HEAD").encode()}
    changed = [p for p in before_repo if repo_now.get(p) != before_repo[p] and "/refs/" not in p]
    assert not [p for p in changed if not p.endswith(("index", "ORIG_HEAD", "logs/HEAD"))]
    # nothing injected or leaked reached a prompt, a reason or the overrides file
    seen = "\n".join(rows.values())
    seen += "".join(p.read_text() for p in (run_dir / "logs").rglob("prompt.log"))
    overrides = run_dir / "overrides.json"
    seen += overrides.read_text() if overrides.exists() else ""
    leaked = [s for s in SECRETS if s in seen]
    assert not leaked, (leaked, rows)
    assert "root:" not in seen  # /etc/shadow's first line
    assert not marked_processes(run_dir)
    return rows, run_dir


def assert_cases(rows: dict[str, str], cases: list[Case]) -> None:
    wrong = []
    for index, case in enumerate(cases, start=1):
        status, _, reason = rows[f"1.{index}"].partition(": ")
        if status not in case.statuses or not any(r in reason for r in case.reasons):
            wrong.append(f"{case.harm}: {rows[f'1.{index}']}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.skipif(
    detect_isolation(SandboxSettings()).kind != "bwrap",
    reason=f"needs a working bubblewrap: skips {len(CASES)} command cases "
    f"({', '.join(c.harm for c in CASES)})",
)
def test_hostile_commands_are_contained_by_the_box(tmp_path: Path) -> None:
    rows, _ = run_hostile(tmp_path, CASES, "bwrap")
    assert_cases(rows, CASES)


# The integrity checks alone (no filesystem box): what the sandbox would have
# refused is still caught after the command, and the result is never used.
UNBOXED = [
    Case("protected_bench", ("tampered with bench.sh",), statuses=("rejected",)),
    Case("protected_in_bench", ("tampered with bench.sh",), "bench", ("rejected",)),
    Case("parent_tree", ("tampered with 1/src/app.py",), statuses=("rejected",)),
    Case("parent_tree_relative", ("tampered with 1/src/app.py",), statuses=("rejected",)),
    Case("git_fsmonitor", ("tampered with .git",), statuses=("rejected",)),
    Case("hidden_file", (NOT_FOUND,)),
]


def test_integrity_checks_catch_tampering_without_the_box(tmp_path: Path) -> None:
    rows, _ = run_hostile(tmp_path, UNBOXED, "none")
    assert_cases(rows, UNBOXED)
