"""Step logs stay bounded (head, tail and a line saying what was dropped), and
their last line is read without reading the rest (issue 13, point 5)."""

from __future__ import annotations

import re
import tracemalloc
from pathlib import Path

from sqlmodel import select

from perfsup.engine.errors import failure_line as _last_line
from perfsup.store import Node, NodeStatus
from perfsup.workspace.logcap import CappedLog, telling_line
from perfsup.workspace.runner import run_command
from tests.helpers import bench_sh_config, build_engine, make_repo

KIB = 1024
DROPPED = re.compile(r"^--- perfsup: ([0-9,]+) bytes of output dropped here", re.MULTILINE)


def dropped(text: str) -> int:
    found = DROPPED.findall(text)
    assert len(found) == 1, found
    return int(found[0].replace(",", ""))


def marker_line(text: str) -> str:
    return next(line for line in text.splitlines(keepends=True) if DROPPED.match(line))


def test_capped_log_keeps_head_and_tail_and_counts_what_it_dropped(tmp_path: Path) -> None:
    path = tmp_path / "check.log"
    written = 0
    lines = [f"line {i:07d} " + "x" * (i % 50) for i in range(60_000)]
    with CappedLog(path, 256 * KIB) as log:
        for line in lines:
            log.write_line(line)
            written += len(line) + 1
            assert path.stat().st_size <= 256 * KIB + len(line) + 1
    text = path.read_text()
    assert text.startswith(lines[0] + "\n" + lines[1] + "\n")  # the head
    assert text.endswith(lines[-2] + "\n" + lines[-1] + "\n")  # the tail
    kept = len(text.encode()) - len(marker_line(text).encode())
    assert kept + dropped(text) == written  # nothing unaccounted for
    # whole lines only, in order, around the marker
    body = [ln for ln in text.splitlines() if not DROPPED.match(ln)]
    numbers = [int(ln.split()[1]) for ln in body]
    assert numbers == sorted(numbers) and all(lines[i] in body for i in numbers[:3])


def test_later_commands_on_one_log_share_one_marker(tmp_path: Path) -> None:
    path = tmp_path / "bench.log"
    written = 0
    for run in range(3):  # the pairs of a benchmark append to one log
        with CappedLog(path, 64 * KIB) as log:
            for i in range(5_000):
                line = f"run {run} line {i}"
                log.write_line(line)
                written += len(line) + 1
    text = path.read_text()
    assert text.startswith("run 0 line 0\n") and text.endswith("run 2 line 4999\n")
    assert len(text.encode()) - len(marker_line(text).encode()) + dropped(text) == written


def test_a_command_printing_megabytes_leaves_a_bounded_log(tmp_path: Path) -> None:
    log = tmp_path / "check.log"
    result = run_command(
        "seq 1 400000; echo 'last words' >&2; exit 3",
        tmp_path,
        log,
        60,
        max_log_bytes=256 * KIB,
    )
    assert result.exit_code == 3
    text = log.read_text()
    assert log.stat().st_size <= 256 * KIB + 100
    assert text.startswith("--- perfsup: $ seq 1 400000")
    assert "\n1\n2\n3\n" in text
    assert text.rstrip().splitlines()[-1].startswith("--- perfsup: exit 3 after")
    assert "last words" in text and "400000" in text
    assert dropped(text) > 2_000_000
    assert _last_line(log) == "last words"


def test_the_reason_line_reads_the_end_of_a_big_log_only(tmp_path: Path) -> None:
    log = tmp_path / "build.log"
    with log.open("w") as handle:
        for i in range(300_000):
            handle.write(f"compiling unit {i}\n")
        handle.write("error: the last unit failed\n--- perfsup: exit 2 after 1.00 s\n\n")
    tracemalloc.start()
    try:
        found = telling_line(log, skip=("--- perfsup:",))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert found == "error: the last unit failed"
    assert peak < 1024 * KIB  # the log is over 5 MiB
    assert log.stat().st_size > 5 * 1024 * KIB


def test_the_engine_caps_a_chatty_check_and_names_its_last_line(tmp_path: Path) -> None:
    make_repo(
        tmp_path / "repo",
        {
            "src/app.py": "def work(n):\n    return n\n",
            "bench.sh": "echo METRIC t=1\n",
            "check.sh": 'if grep -q "n + 0" src/app.py; then seq 1 300000; exit 3; fi\n',
        },
    )
    (tmp_path / "answers.toml").write_text(
        "[[answer]]\ntext = '''\nDESCRIPTION: add nothing\nsrc/app.py\n<<<<<<< SEARCH\n"
        "    return n\n=======\n    return n + 0\n>>>>>>> REPLACE\n'''\n"
    )
    (tmp_path / "perfsup.toml").write_text(
        bench_sh_config(
            tables='[check]\nrun = "bash check.sh"\n[run]\nmax_log_mb = 1\n'
            "[budgets]\nmax_experiments = 1\n",
        )
    )
    engine = build_engine(tmp_path / "perfsup.toml", tmp_path / "run")
    store = engine.store
    engine.run()
    with store.session() as s:
        node = s.exec(select(Node).where(Node.parent_id == "1")).one()
    store.close()
    assert node.status == NodeStatus.CHECKS_FAILED
    assert node.reason == "check exited with status 3: 300000"
    log = tmp_path / "run" / "logs" / node.id / "check.log"
    text = log.read_text()
    assert log.stat().st_size <= 1024 * KIB + 100  # seq printed about 2 MB
    assert "\n1\n2\n" in text and "\n300000\n" in text and dropped(text) > 500_000
