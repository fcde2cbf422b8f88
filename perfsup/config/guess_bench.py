"""Find a repository's benchmark the way a person would (`perfsup init`).

A person looks for a `bench*.py` at the top, a `benchmarks/` (or `benchmark/`)
folder, pytest-benchmark tests, an asv configuration, a hyperfine command in
the Makefile or a script, and Go `func Benchmark...` functions. The first
that fits, in that order of how directly it measures, is chosen; every
candidate seen is named in a note so the person can switch.

A script that prints `METRIC name=value` lines is run as it is and its metric
names are read from its text; a script that prints nothing perfsup can read is
timed as a whole (`wall_ms`, the wall time of one run, interpreter start
included), which is coarse but honest and needs nothing installed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

#: Where a pytest-benchmark or hyperfine run writes the JSON perfsup reads.
PYTEST_BENCH_JSON = ".perfsup-bench.json"
HYPERFINE_JSON = ".perfsup-hyperfine.json"
BENCH_DIRS = ("benchmarks", "benchmark", "bench")

_METRIC_LINE = re.compile(r"METRIC\s+([^\n]*)")
_METRIC_NAME = re.compile(r"(?:^|\s)([A-Za-z_][\w.\-]*)\s*=")
_HIGHER = re.compile(r"(ops|per_s|per_sec|/s|_s_inv|throughput|rate|qps|rps|speed|score|mb_s)")
_UNITS = {
    "_per_s": "1/s",
    "_per_sec": "1/s",
    "_ms": "ms",
    "_ns": "ns",
    "_us": "us",
    "_s": "s",
    "_mb": "MB",
    "_kb": "KB",
    "_b": "B",
}
_HYPERFINE = re.compile(r"^\s*(?:@?\s*)(hyperfine\s.+)$", re.MULTILINE)


@dataclass
class MetricGuess:
    name: str
    unit: str = ""
    direction: str = "lower"
    source: str = "metric_lines"
    path: str | None = None
    field: str | None = None


@dataclass
class BenchGuess:
    """The chosen benchmark: its command, metrics, what to protect, and why."""

    command: str
    comment: list[str]
    metrics: list[MetricGuess]
    protected: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def find_python_bench(repo: Path, pytest_benchmark_mention: str | None) -> BenchGuess | None:
    """The best benchmark of a Python repository, or None."""
    scripts = sorted(p for p in repo.glob("bench*.py") if p.is_file())
    folder = next((repo / d for d in BENCH_DIRS if (repo / d).is_dir()), None)
    found: list[BenchGuess] = []
    for script in scripts:
        found.append(_script(repo, script))
    if folder is not None:
        found += _folder(repo, folder, pytest_benchmark_mention)
    if pytest_benchmark_mention is not None and not any(
        g.metrics[0].source == "pytest_benchmark" for g in found
    ):
        found.append(_pytest_benchmark("", [f"guessed from {pytest_benchmark_mention}"]))
    if (repo / "asv.conf.json").is_file():
        found.append(_asv())
    hyper = find_hyperfine(repo)
    if hyper is not None:
        found.append(hyper)
    if not found:
        return None
    # METRIC lines first (the project says what to measure), then tool JSON, then wall time
    rank = {"metric_lines": 0, "pytest_benchmark": 1, "hyperfine": 2}
    best = min(found, key=lambda g: (rank.get(g.metrics[0].source, 1), _timed(g)))
    others = [g.command for g in found if g is not best]
    if others:
        best.notes.append("other benchmarks found: " + "; ".join(f"`{c}`" for c in others))
    return best


def _timed(guess: BenchGuess) -> bool:
    return guess.metrics[0].name == "wall_ms"


def _script(repo: Path, script: Path) -> BenchGuess:
    rel = script.relative_to(repo).as_posix()
    names = metric_names(script)
    command = f"python {rel}"
    dotted = script.relative_to(repo).with_suffix("").parts
    if len(dotted) > 1 and all(part.isidentifier() for part in dotted):
        # run as a module from the top, so the package beside the folder imports
        command = f"python -m {'.'.join(dotted)}"
    if names:
        return BenchGuess(
            command=command,
            comment=[f"guessed: {rel} prints METRIC lines ({', '.join(names)})"],
            metrics=[metric_from_name(n) for n in names],
            protected=[rel],
        )
    return BenchGuess(
        command=timed(command),
        comment=[
            f"guessed: {rel} looks like a benchmark but prints no METRIC line;",
            "perfsup times one whole run of it (wall_ms). Better: make it print",
            "`METRIC <name>=<value>` for the part that matters and run it directly.",
        ],
        metrics=[MetricGuess("wall_ms", "ms")],
        protected=[rel],
    )


def _folder(repo: Path, folder: Path, mention: str | None) -> list[BenchGuess]:
    rel = folder.relative_to(repo).as_posix()
    files = sorted(p for p in folder.rglob("*.py") if p.is_file())
    uses_fixture = [p for p in files if re.search(r"\bbenchmark\s*[,)]", _read(p))]
    if uses_fixture and p_is_test(uses_fixture[0]):
        comment = [f"guessed: {rel}/ holds pytest-benchmark tests (the benchmark fixture)"]
        guess = _pytest_benchmark(rel, comment)
        guess.protected.append(rel)
        return [guess]
    found: list[BenchGuess] = []
    runnable = [p for p in files if "__main__" in _read(p) or metric_names(p)]
    for script in runnable[:1]:
        guess = _script(repo, script)
        guess.protected = [rel]
        found.append(guess)
    return found


def p_is_test(path: Path) -> bool:
    return path.name.startswith("test_") or path.name.endswith("_test.py")


def _pytest_benchmark(where: str, comment: list[str]) -> BenchGuess:
    target = f" {where}" if where else ""
    return BenchGuess(
        command=f"python -m pytest{target} --benchmark-only --benchmark-json={PYTEST_BENCH_JSON}",
        comment=[*comment, "pytest-benchmark writes its figures to a JSON file perfsup reads"],
        metrics=[
            MetricGuess(
                "median_s", "s", source="pytest_benchmark", path=PYTEST_BENCH_JSON, field="median"
            )
        ],
    )


def _asv() -> BenchGuess:
    return BenchGuess(
        command=timed("python -m asv run --python=same --quick --show-stderr"),
        comment=[
            "guessed from asv.conf.json: asv runs the benchmarks; perfsup times one",
            "quick pass (wall_ms). TODO: asv must be installed where the run happens.",
        ],
        metrics=[MetricGuess("wall_ms", "ms")],
        protected=["asv.conf.json"],
    )


def find_hyperfine(repo: Path) -> BenchGuess | None:
    """A hyperfine command in the Makefile or a top-level shell script."""
    for name in ("Makefile", "makefile", "GNUmakefile", *sorted(p.name for p in repo.glob("*.sh"))):
        match = _HYPERFINE.search(_read(repo / name))
        if match is None:
            continue
        command = match.group(1).strip()
        if "$(" in command or "${" in command:
            continue  # make variables: the shell cannot run the line as written
        if "--export-json" not in command:
            command = command.replace("hyperfine", f"hyperfine --export-json {HYPERFINE_JSON}", 1)
        else:
            return None  # it writes its JSON somewhere already: the person points path at it
        return BenchGuess(
            command=command,
            comment=[f"guessed from {name}: a hyperfine command, its JSON read by perfsup"],
            metrics=[
                MetricGuess(
                    "median_s", "s", source="hyperfine", path=HYPERFINE_JSON, field="median"
                )
            ],
            protected=[name],
        )
    return None


def metric_names(script: Path) -> list[str]:
    """The names a script prints as `METRIC name=`, in order, from its text."""
    names = [
        name for line in _METRIC_LINE.findall(_read(script)) for name in _METRIC_NAME.findall(line)
    ]
    return list(dict.fromkeys(names))


def metric_from_name(name: str) -> MetricGuess:
    """Direction and unit read from a metric's name: `ops_per_s` higher, `time_ms` lower."""
    lowered = name.lower()
    direction = "higher" if _HIGHER.search(lowered) else "lower"
    unit = next((u for suffix, u in _UNITS.items() if lowered.endswith(suffix)), "")
    return MetricGuess(name, unit, direction)


def timed(command: str) -> str:
    """`command` run once, its wall time printed as `METRIC wall_ms=...`; its status kept."""
    code = (
        "import subprocess,sys,time;t=time.perf_counter();"
        "r=subprocess.run(sys.argv[1],shell=True,stdout=subprocess.DEVNULL);"
        "print('METRIC wall_ms=%.3f'%((time.perf_counter()-t)*1e3));sys.exit(r.returncode)"
    )
    return f'python -c "{code}" {_quote(command)}'


def go_benchmarks(repo: Path) -> list[str]:
    """Names of `func BenchmarkX(b *testing.B)` in the repository's _test.go files."""
    pattern = re.compile(r"^func\s+(Benchmark\w*)\s*\(\s*\w+\s+\*testing\.B\s*\)", re.MULTILINE)
    names: list[str] = []
    for path in sorted(repo.rglob("*_test.go")):
        if any(part in ("vendor", "testdata") or part.startswith(".") for part in path.parts):
            continue
        names += pattern.findall(_read(path))
    return names


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"
