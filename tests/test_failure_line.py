"""A failed step is named by the line that says why, not by whatever came last.

Tried on a registry package (humanize), the preflight said "it printed: '13
errors in 0.52s'" while the cause, `ModuleNotFoundError: No module named
'humanize._version'`, sat a dozen lines higher; with a missing pytest plugin
it said "rootdir: ...". Here real tools fail through the real runner, and the
reason must carry the line a person needs.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from perfsup.engine.preflight import printed_line
from perfsup.workspace.runner import run_command
from perfsup.workspace.steps import failure_line

PYTHON = shlex.quote(sys.executable)


def failed(tmp_path: Path, command: str, name: str = "check") -> Path:
    log = tmp_path / f"{name}.log"
    result = run_command(command, tmp_path, log, timeout_s=120)
    assert result.exit_code not in (0, None), log.read_text()
    return log


def test_a_pytest_collection_error_is_named_by_its_exception(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    for name in ("a", "b", "c"):
        (tmp_path / "tests" / f"test_{name}.py").write_text(
            "from pkg._version import version\n\ndef test_it():\n    assert version\n"
        )
    log = failed(tmp_path, f"{PYTHON} -m pytest -q -p no:cacheprovider tests")
    assert "ModuleNotFoundError: No module named 'pkg'" in failure_line(log)
    assert "ModuleNotFoundError" in printed_line(log)


def test_an_unknown_option_is_named_by_the_usage_error(tmp_path: Path) -> None:
    script = "import argparse; argparse.ArgumentParser(prog='bench').parse_args()"
    log = failed(tmp_path, f"{PYTHON} -c {shlex.quote(script)} --benchmark-disable")
    assert failure_line(log) == "bench: error: unrecognized arguments: --benchmark-disable"


def test_a_failing_test_is_named_by_pytest_s_summary_line(tmp_path: Path) -> None:
    (tmp_path / "test_sum.py").write_text("def test_sum():\n    assert sum([1, 2]) == 4\n")
    log = failed(tmp_path, f"{PYTHON} -m pytest -q -p no:cacheprovider test_sum.py")
    line = failure_line(log)
    assert line.startswith("FAILED test_sum.py::test_sum - assert 3 == 4"), line


def test_a_traceback_wins_over_the_wrapper_s_closing_words(tmp_path: Path) -> None:
    crash = "raise ValueError('row 7 has 3 columns, expected 4')"
    log = failed(
        tmp_path, f"{PYTHON} -c {shlex.quote(crash)}; echo 'make: *** [all] Error 1'; exit 2"
    )
    assert failure_line(log) == "ValueError: row 7 has 3 columns, expected 4"


def test_without_an_error_line_the_last_line_stands(tmp_path: Path) -> None:
    log = failed(tmp_path, "echo 'checking 12 files'; echo 'output differs at line 3'; exit 1")
    assert failure_line(log) == "output differs at line 3"


def test_an_old_logged_exception_does_not_name_a_later_failure(tmp_path: Path) -> None:
    noisy = "echo 'ValueError: retried and recovered'; seq 1 60; echo 'checksum mismatch'; exit 1"
    log = failed(tmp_path, noisy)
    assert failure_line(log) == "checksum mismatch"


def test_a_metric_line_names_a_failure_only_when_nothing_else_was_printed(
    tmp_path: Path,
) -> None:
    log = failed(tmp_path, "echo 'bench.sh: input missing'; echo 'METRIC time_ms=1'; exit 1")
    assert printed_line(log) == "'bench.sh: input missing'"
    alone = failed(tmp_path, "echo 'METRIC time_ms=1'; exit 1", name="alone")
    assert printed_line(alone) == "'METRIC time_ms=1'"
