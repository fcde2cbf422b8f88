"""Worst cases of the answer path: hostile answers through parse, apply and syntax check.

Issue 13, point 4: model output can never tie up the engine. Each answer
below goes through what the engine does with a model's answer
(`perfsup.engine.proposal`): `parse_answer` under the default limits of
`[model]`, then `apply_edit` on a fresh copy of a worktree holding a
1,500-line Python module, which includes the syntax check of the result.
A second pass parses every answer with the limits lifted (up to 2 MiB per
answer and per line), to show the parser itself is linear where a person
raises `model.max_answer_kb`. Every answer is timed three times; the median
counts. The answers run up to 1 MB: whitespace-only lines of hundreds of
spaces (which once took minutes), one huge line, deep nesting (which made
`ast.parse` raise RecursionError/MemoryError), many unterminated blocks,
many markers and fences, placeholder bait, search blocks that nearly match,
and large valid edits just under the limit.

    PYTHONPATH=. python benchmarks/parse_worst.py

The last line is `parse_worst: max_ms=X answers=N` for the engine's path (the
default limits); the target is X < 200. The pass with the limits lifted is
printed before it, with its own maximum: it shows the parser's time growing
linearly with the answer, not a target. Wall and CPU milliseconds are both
printed: on a loaded machine the wall time is mostly waiting for a core.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from perfsup.agent.apply import EditDoesNotApply, apply_edit
from perfsup.agent.edits import MalformedAnswer, parse_answer
from perfsup.agent.limits import AnswerLimits

TARGET_MS = 200.0
REPEATS = 3
KB = 1024
SIZES = (16 * KB, 60 * KB, 256 * KB, 1024 * KB)
LIFTED = AnswerLimits(max_chars=2 * 1024 * KB, max_line_chars=2 * 1024 * KB)
HEAD = "DESCRIPTION: hostile answer\n"


def target_module(functions: int = 250) -> str:
    """A 1,500-line module of distinct small functions, like real code."""
    parts = ['"""A module of many small functions."""\n\nimport math\n\n']
    for i in range(functions):
        parts.append(
            f"def step_{i}(values: list[float], scale: float = {i + 1}.0) -> float:\n"
            f'    """Scaled sum number {i} of `values`."""\n'
            f"    total_{i} = 0.0\n"
            f"    for value in values:\n"
            f"        total_{i} += math.sqrt(abs(value)) * scale + {i}\n"
            f"    return total_{i} / max(len(values), {i % 7 + 1})\n\n\n"
        )
    return "".join(parts)


def block(path: str, search: str, replace: str) -> str:
    return f"{path}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


def fill(size: int, unit: str, head: str = HEAD, tail: str = "") -> str:
    """`head`, then `unit` repeated until the answer is about `size` characters."""
    room = max(size - len(head) - len(tail), len(unit))
    return head + unit * (room // len(unit)) + tail


def answers(module: str) -> dict[str, Callable[[int], str]]:
    """Name -> a function building that hostile answer at a given size."""
    lines = module.splitlines(keepends=True)
    first = "".join(lines[4:10])  # step_0, exactly as in the file
    near = first.replace("total_0 = 0.0", "total_0 = 0.00")
    return {
        "whitespace-only lines (300 spaces) in a replacement": lambda n: fill(
            n,
            " " * 300 + "\n",
            HEAD + "src/big.py\n<<<<<<< SEARCH\n" + first + "=======\n",
            ">>>>>>> REPLACE\n",
        ),
        "whitespace-only lines (300 spaces) as prose": lambda n: fill(n, " " * 300 + "\n"),
        "one huge line of spaces": lambda n: HEAD + " " * (n - len(HEAD)),
        "one huge DESCRIPTION line, trailing spaces": lambda n: (
            "DESCRIPTION: a" + " " * (n - 20) + "b\n"
        ),
        "one huge line of 2-char tokens in a replacement": lambda n: (
            HEAD + block("src/big.py", first, "x = " + "1+" * ((n - 400) // 2) + "1\n")
        ),
        "`1+` nested deep across short lines (RecursionError)": lambda n: (
            HEAD + block("src/big.py", first, "x = (1\n" + "+1\n" * ((n - 600) // 3) + ")\n")
        ),
        "unary minus chain on short lines (MemoryError)": lambda n: (
            HEAD + block("src/big.py", first, "x = (\n" + "-\n" * ((n - 600) // 2) + "1)\n")
        ),
        "many unterminated SEARCH blocks": lambda n: fill(n, "src/big.py\n<<<<<<< SEARCH\n"),
        "many SEARCH/divider pairs, no REPLACE": lambda n: fill(
            n, "src/big.py\n<<<<<<< SEARCH\nx\n=======\n"
        ),
        "many marker lines of every kind": lambda n: fill(
            n, "<<<<<<< SEARCH\n=======\n>>>>>>> REPLACE\n<<<<<<<<<<\n=========\n>>>>>>>>\n"
        ),
        "many fences after a REGION": lambda n: fill(
            n, "```\n", HEAD + "REGION: src/big.py::step_0\n"
        ),
        "placeholder bait in a replacement": lambda n: (
            HEAD
            + block(
                "src/big.py",
                first,
                first
                + "".join(
                    f"    #{' ' * 40}...{' ' * 40}existing{' ' * 40}x{i}\n"
                    f"    rest{' ' * 60}of{' ' * 60}the{' ' * 60}y{i}\n"
                    for i in range((n - 800) // 300)
                ),
            )
        ),
        "many small blocks that each apply": lambda n: (
            HEAD
            + "".join(
                block("src/big.py", f"    total_{i} = 0.0\n", f"    total_{i} = 0.0 + 0\n")
                for i in range(min(250, n // 80))
            )
        ),
        "a large search block that nearly matches": lambda n: (
            HEAD + block("src/big.py", _cut(near * (n // len(near)), n - 200), "x = 1\n")
        ),
        "a search block of 400 characters (fuzzy repair) that nearly matches": lambda n: (
            HEAD
            + block("src/big.py", _cut(near * 10, min(n, 395)), "x = 1\n")
            + "prose\n" * ((n - 1100) // 6)
        ),
        "a large valid replacement just under the limit": lambda n: (
            HEAD
            + block(
                "src/big.py",
                first,
                "".join(
                    f"def extra_{i}(a, b):\n    return (a + b) * {i}\n\n\n"
                    for i in range((n - 600) // 44)
                ),
            )
        ),
        "NUL bytes and line separators in a replacement": lambda n: (
            HEAD + block("src/big.py", first, "x = 1\x00\u2028\x0c\n" * ((n - 600) // 9))
        ),
        "CR-only line ends": lambda n: fill(n, "src/big.py\r<<<<<<< SEARCH\r  \r=======\r"),
    }


def _cut(text: str, size: int) -> str:
    """`text` cut to whole lines of at most `size` characters."""
    return text[:size].rsplit("\n", 1)[0] + "\n"


def run_once(answer: str, limits: AnswerLimits | None, worktree: Path | None) -> str:
    """Parse (and apply, with a worktree) one answer; the outcome in a few words."""
    try:
        edit = parse_answer(answer, limits)
        if worktree is None:
            return "parsed"
        apply_edit(worktree, edit)
    except (MalformedAnswer, EditDoesNotApply) as exc:
        return f"refused: {str(exc)[:60]}"
    return "applied"


def timed(
    answer: str, limits: AnswerLimits | None, base: Path, module: str
) -> tuple[float, float, str]:
    """Median wall and CPU milliseconds of REPEATS runs, and the outcome."""
    times = []
    cpu = []
    outcome = ""
    for _ in range(REPEATS):
        worktree = None
        if limits is None:  # the engine's path: apply on a fresh copy
            worktree = base / "wt"
            shutil.rmtree(worktree, ignore_errors=True)
            (worktree / "src").mkdir(parents=True)
            (worktree / "src" / "big.py").write_text(module)
        start, start_cpu = time.perf_counter(), time.process_time()
        outcome = run_once(answer, limits, worktree)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return statistics.median(times), statistics.median(cpu), outcome


def run_pass(
    label: str, limits: AnswerLimits | None, base: Path, module: str
) -> tuple[float, float, int]:
    """Every case at every size; the worst median wall and CPU ms, and the count."""
    print(f"\n{label}: median of {REPEATS} runs, wall ms / CPU ms")
    worst = worst_cpu = 0.0
    count = 0
    for name, make in answers(module).items():
        for size in SIZES:
            answer = make(size)
            ms, cpu_ms, outcome = timed(answer, limits, base, module)
            worst, worst_cpu = max(worst, ms), max(worst_cpu, cpu_ms)
            count += 1
            flag = "" if ms < TARGET_MS or limits is not None else "  OVER TARGET"
            size_kb = len(answer) / KB
            print(f"  {ms:7.1f} / {cpu_ms:6.1f}  {size_kb:5.0f} KB  {name}: {outcome}{flag}")
    return worst, worst_cpu, count


def main() -> int:
    module = target_module()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="parse-worst-") as tmp:
        base = Path(tmp)
        worst, worst_cpu, count = run_pass("engine path (default limits)", None, base, module)
        lifted = run_pass("parser alone, limits lifted to 2 MiB", LIFTED, base, module)
    print(f"\nload average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"parser alone with the limits lifted (linearity, not the target): "
        f"max_ms={lifted[0]:.1f} (CPU {lifted[1]:.1f}) answers={lifted[2]}"
    )
    print(f"engine path: worst CPU time of an answer {worst_cpu:.1f} ms")
    print(f"parse_worst: max_ms={worst:.1f} answers={count}")
    return 0 if worst < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
