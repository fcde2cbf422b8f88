"""Guess a first perfsup.toml for a repository (`perfsup init [PATH]`).

The guess looks at the files at the top of the repository: `go.mod`,
`Cargo.toml`, `pyproject.toml` / `setup.cfg` / `setup.py` and a `Makefile`.
The first ecosystem found gives the build, check and bench commands and the
writable paths; a Makefile fills in whatever is still missing. Every guessed
value is written with a comment that names the file it was guessed from, and
every value perfsup could not guess is a TODO comment with a safe placeholder,
so the text always loads with `perfsup.config.load.parse_config` as long as
the repository is a git checkout.
"""

from __future__ import annotations

import os
import re
import shutil
import tomllib
from pathlib import Path

from perfsup.config.guess_bench import (
    BENCH_DIRS,
    BenchGuess,
    MetricGuess,
    find_hyperfine,
    find_python_bench,
    go_benchmarks,
)
from perfsup.config.guess_env import find_venv
from perfsup.config.guess_render import (
    CONFIG_NAME,
    DEFAULT_MODEL,
    PLACEHOLDER_BENCH,
    Guess,
    Value,
    render,
)

__all__ = ["CONFIG_NAME", "DEFAULT_MODEL", "PLACEHOLDER_BENCH", "guess_config", "write_init"]

_SKIP_DIRS = frozenset(
    {"vendor", "testdata", "node_modules", "target", "build", "dist", "__pycache__"}
)
_NOT_PYTHON_PACKAGES = frozenset(
    {
        "tests",
        "test",
        "testing",
        "docs",
        "doc",
        "examples",
        "example",
        "benchmarks",
        "benchmark",
        "bench",
        "scripts",
        "tools",
        "build",
        "dist",
        "site",
        "venv",
    }
)
_NOT_PYTHON_MODULES = frozenset(
    {"setup.py", "conftest.py", "noxfile.py", "tasks.py", "fabfile.py", "manage.py"}
)
_PYTHON_PROJECT_FILES = ("pyproject.toml", "setup.cfg", "setup.py")
_TOP_TEST_MODULES = ("test_*.py", "*_test.py")
_MAKEFILES = ("GNUmakefile", "makefile", "Makefile")
_MAX_PATHS = 40


def guess_config(repo: Path) -> str:
    """Return the text of a perfsup.toml for the repository at `repo`.

    Commands and paths are guessed from the files found there; each guessed
    value carries a comment naming its source file, and what could not be
    guessed is marked TODO. The text is valid TOML for the perfsup schema.
    """
    repo = Path(repo)
    guess = Guess(venv=find_venv(repo))
    if (repo / "go.mod").is_file():
        _guess_go(repo, guess)
    elif (repo / "Cargo.toml").is_file():
        _guess_rust(repo, guess)
    elif any((repo / name).is_file() for name in _PYTHON_PROJECT_FILES):
        _guess_python(repo, guess)
    if guess.bench is None:
        hyper = find_hyperfine(repo)
        if hyper is not None:
            _take_bench(guess, hyper)
    makefile = next((name for name in _MAKEFILES if (repo / name).is_file()), None)
    if makefile is not None:
        _guess_make(repo, makefile, guess)
    if guess.writable is None:
        if (repo / "src").is_dir():
            guess.writable = Value(["src"], ["guessed: the src folder exists; check it"])
        else:
            guess.writable = Value(
                ["."],
                [
                    "TODO: list only the files and folders the model may change;",
                    "'.' lets it change everything that is not protected below.",
                ],
            )
    protected = [CONFIG_NAME, *guess.protected]
    guess.protected = list(dict.fromkeys(protected))
    return render(guess)


def write_init(repo: Path, *, force: bool = False) -> Path:
    """Write the guessed config to `repo/perfsup.toml` and return its path.

    Raises `FileExistsError` when the file is already there, unless `force`.
    """
    target = Path(repo) / CONFIG_NAME
    if target.exists() and not force:
        raise FileExistsError(
            f"{target} already exists; pass --force to overwrite it with a new guess"
        )
    target.write_text(guess_config(Path(repo)), encoding="utf-8")
    return target


# --- ecosystems -----------------------------------------------------------


def _guess_go(repo: Path, guess: Guess) -> None:
    src = ["guessed from go.mod"]
    guess.kind = "go"
    guess.goal = "Make the Go benchmarks faster (lower ns/op) without changing behaviour."
    guess.build = Value("go build ./...", src)
    guess.check = Value("go vet ./... && go test ./...", src)
    benchmarks = go_benchmarks(repo)
    found = (
        [f"guessed: {len(benchmarks)} Benchmark functions ({', '.join(benchmarks[:4])}...)"]
        if benchmarks
        else ["TODO: no func Benchmark... found; write one in a _test.go file"]
    )
    guess.bench = Value("go test -run '^$' -bench . -benchmem -count 1 ./...", src + found)
    guess.metrics = [
        MetricGuess("ns_op", "ns/op", source="go_bench", field="ns/op"),
    ]
    guess.metric_comment = [
        "guessed from go.mod: `go test -bench` output, read by the go_bench source",
        "(the first benchmark printed; set select = 'BenchmarkName' for another).",
    ]
    # No [sandbox] writable_paths for Go's caches: each step gets a build cache of its
    # own and sees the module cache read-only (decision 0210); the person's caches
    # stay out of reach of the code the model writes.
    if shutil.which("go") is None:
        guess.notes.append("TODO: go was not found here; install it where the run happens.")
    go_paths = _go_paths(repo)
    if go_paths:
        guess.writable = Value(
            go_paths, ["guessed from go.mod: the files and folders that hold .go files"]
        )
    guess.protected = [p for p in ("go.mod", "go.sum") if (repo / p).exists()]
    guess.protected.append("*_test.go")


def _go_paths(repo: Path) -> list[str]:
    """Root .go files (not tests) and the topmost folders that hold .go files."""
    root_files: list[str] = []
    dirs: list[str] = []
    for here, subdirs, files in os.walk(repo):
        subdirs[:] = sorted(d for d in subdirs if not _skipped(d))
        rel = Path(here).relative_to(repo)
        go = sorted(f for f in files if f.endswith(".go"))
        if not go:
            continue
        if rel == Path("."):
            root_files += [f for f in go if not f.endswith("_test.go")]
        elif not any(rel.as_posix().startswith(d + "/") for d in dirs):
            dirs.append(rel.as_posix())
    writable = root_files + dirs
    if len(writable) > _MAX_PATHS:
        writable = sorted({p.split("/")[0] for p in writable})
    return writable


def _guess_rust(repo: Path, guess: Guess) -> None:
    src = ["guessed from Cargo.toml"]
    guess.kind = "rust"
    guess.goal = "Make the cargo benchmarks faster without changing behaviour."
    guess.build = Value("cargo build --release", src)
    guess.check = Value("cargo test", src)
    guess.bench = Value("cargo bench", src)
    guess.metrics = [MetricGuess("time_ns", "ns")]
    guess.metric_comment = [
        "guessed from Cargo.toml: cargo bench reports a time per iteration.",
        "TODO: perfsup cannot read cargo bench output yet; make the benchmark",
        "print `METRIC time_ns=<value>` (or point source = 'csv' at a CSV file).",
    ]
    writable: list[str] = []
    if (repo / "src").is_dir():
        writable.append("src")
    for member in _cargo_members(repo):
        if (repo / member / "src").is_dir():
            writable.append(f"{member}/src")
    if writable:
        guess.writable = Value(writable, ["guessed from Cargo.toml: the crates' src folders"])
    guess.protected = [
        p for p in ("Cargo.toml", "Cargo.lock", "benches", "tests") if (repo / p).exists()
    ]


def _cargo_members(repo: Path) -> list[str]:
    """Workspace member folders named in Cargo.toml (globs expanded), in order."""
    try:
        data = tomllib.loads((repo / "Cargo.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    members = data.get("workspace", {}).get("members", [])
    found: list[str] = []
    for member in members if isinstance(members, list) else []:
        if not isinstance(member, str) or Path(member).is_absolute() or ".." in member:
            continue
        for path in sorted(repo.glob(member)):
            if path.is_dir():
                found.append(path.relative_to(repo).as_posix())
    return list(dict.fromkeys(found))[:_MAX_PATHS]


def _guess_python(repo: Path, guess: Guess) -> None:
    source = next(name for name in _PYTHON_PROJECT_FILES if (repo / name).is_file())
    guess.kind = "python"
    guess.check = Value("python -m pytest -q", [f"guessed from {source}"])
    mention = _mentions_pytest_benchmark(repo)
    if mention is not None:
        # pytest-benchmark times every benchmark test for about a second in a plain run;
        # the check needs their assertions only (each benchmarked function runs once)
        guess.check = Value(
            "python -m pytest -q --benchmark-disable",
            [
                f"guessed from {source}; pytest-benchmark ({mention}) runs each benchmark",
                "once here (--benchmark-disable): the check tests, the bench measures",
            ],
        )
    bench = find_python_bench(repo, mention)
    if bench is not None:
        _take_bench(guess, bench)
        if bench.metrics[0].source == "pytest_benchmark":
            guess.goal = "Make the pytest-benchmark benchmarks faster without changing behaviour."
    paths = _python_paths(repo)
    if paths:
        guess.writable = Value(paths, [f"guessed from {source}: the package source"])
        guess.build = Value(
            "python -m compileall -q " + " ".join(_shell_quote(p) for p in paths),
            [f"guessed from {source}: a syntax check of the package source"],
        )
    guess.protected += [
        p
        for p in (*_PYTHON_PROJECT_FILES, "conftest.py", "tests", "test", *BENCH_DIRS)
        if (repo / p).exists()
    ]
    # test modules at the top (test_x.py beside setup.py): their tests, and often their bench
    guess.protected += [
        pattern for pattern in _TOP_TEST_MODULES if any(p.is_file() for p in repo.glob(pattern))
    ]


def _take_bench(guess: Guess, bench: BenchGuess) -> None:
    """Use a found benchmark: its command, metrics and files to protect."""
    guess.bench = Value(bench.command, list(bench.comment))
    guess.metrics = bench.metrics
    guess.metric_comment = [f"read from the benchmark: {', '.join(m.name for m in bench.metrics)}"]
    if bench.metrics[0].source == "pytest_benchmark":
        guess.metric_comment.append(
            "(the first benchmark in the JSON; set select = 'test_name[param]' for another)"
        )
    guess.protected += bench.protected
    guess.notes += bench.notes


def _mentions_pytest_benchmark(repo: Path) -> str | None:
    """The first project file that mentions pytest-benchmark, if any."""
    candidates = [
        *_PYTHON_PROJECT_FILES,
        "tox.ini",
        "noxfile.py",
        "Pipfile",
        "environment.yml",
        *sorted(p.name for p in repo.glob("requirements*.txt")),
        *sorted(p.relative_to(repo).as_posix() for p in repo.glob("requirements/*.txt")),
    ]
    pattern = re.compile(r"pytest[-_]benchmark", re.IGNORECASE)
    for name in candidates:
        path = repo / name
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if pattern.search(text):
            return name
    return None


def _python_paths(repo: Path) -> list[str]:
    """The package source: src/, else top-level packages, else top-level modules."""
    if (repo / "src").is_dir():
        return ["src"]
    packages = sorted(
        p.name
        for p in repo.iterdir()
        if p.is_dir()
        and not _skipped(p.name)
        and p.name not in _NOT_PYTHON_PACKAGES
        and (p / "__init__.py").is_file()
    )
    if packages:
        return packages[:_MAX_PATHS]
    modules = sorted(
        p.name
        for p in repo.glob("*.py")
        if p.name not in _NOT_PYTHON_MODULES
        and not p.name.startswith(("test_", "bench"))
        and not p.name.endswith("_test.py")
    )
    return modules[:_MAX_PATHS]


def _guess_make(repo: Path, makefile: str, guess: Guess) -> None:
    """Fill in from the Makefile whatever the ecosystem left open."""
    targets = _make_targets(repo / makefile)
    if guess.kind == "unknown":
        guess.kind = "make"
        if targets:
            guess.build = Value("make", [f"guessed from {makefile}: its default target"])
    else:
        shown = ", ".join(targets[:12]) or "none"
        guess.notes.append(f"{makefile} found too (targets: {shown}); it fills only gaps.")
    name: str | None
    if guess.check is None:
        name = next((t for t in ("test", "check") if t in targets), None)
        if name is not None:
            guess.check = Value(f"make {name}", [f"guessed from {makefile}: target {name}"])
    if guess.bench is None:
        name = next((t for t in ("bench", "benchmark", "benchmarks") if t in targets), None)
        if name is not None:
            guess.bench = Value(f"make {name}", [f"guessed from {makefile}: target {name}"])
    guess.protected.append(makefile)


def _make_targets(path: Path) -> list[str]:
    """Explicit target names of a Makefile, in order (no pattern or special targets)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    rule = re.compile(r"^([A-Za-z0-9_][A-Za-z0-9_.\-/ ]*?)\s*::?(?![=:])")
    found: list[str] = []
    for line in text.splitlines():
        match = rule.match(line)
        if match is None:
            continue
        found += [t for t in match.group(1).split() if "%" not in t]
    return list(dict.fromkeys(found))


def _skipped(name: str) -> bool:
    return name.startswith((".", "_")) or name in _SKIP_DIRS


def _shell_quote(text: str) -> str:
    """`text` quoted for a POSIX shell where it needs it."""
    return (
        text if re.fullmatch(r"[A-Za-z0-9_./\-]+", text) else "'" + text.replace("'", "'\\''") + "'"
    )
