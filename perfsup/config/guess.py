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
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from perfsup.config.tomltext import comments, shell_quote, toml_str, toml_value

#: File name `write_init` writes into the repository.
CONFIG_NAME = "perfsup.toml"

#: The model `perfsup init` proposes: a local Ollama model that writes decent code.
DEFAULT_MODEL = "qwen2.5-coder:7b"

#: The bench placeholder: fails loudly until the person replaces it.
PLACEHOLDER_BENCH = "echo 'perfsup: set bench.run in perfsup.toml' >&2; exit 2"

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
_MAKEFILES = ("GNUmakefile", "makefile", "Makefile")
_MAX_PATHS = 40


@dataclass
class _Value:
    """One guessed value and the comment lines written above it."""

    value: str | list[str]
    comment: list[str]


@dataclass
class _Guess:
    """Everything guessed about a repository, before it is rendered as TOML."""

    kind: str = "unknown"
    goal: str = "Make the benchmark faster without changing behaviour."
    build: _Value | None = None
    check: _Value | None = None
    bench: _Value | None = None
    metric_name: str = "time_ms"
    metric_unit: str = "ms"
    metric_comment: list[str] = field(default_factory=list)
    writable: _Value | None = None
    protected: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def guess_config(repo: Path) -> str:
    """Return the text of a perfsup.toml for the repository at `repo`.

    Commands and paths are guessed from the files found there; each guessed
    value carries a comment naming its source file, and what could not be
    guessed is marked TODO. The text is valid TOML for the perfsup schema.
    """
    repo = Path(repo)
    guess = _Guess()
    if (repo / "go.mod").is_file():
        _guess_go(repo, guess)
    elif (repo / "Cargo.toml").is_file():
        _guess_rust(repo, guess)
    elif any((repo / name).is_file() for name in _PYTHON_PROJECT_FILES):
        _guess_python(repo, guess)
    makefile = next((name for name in _MAKEFILES if (repo / name).is_file()), None)
    if makefile is not None:
        _guess_make(repo, makefile, guess)
    if guess.writable is None:
        if (repo / "src").is_dir():
            guess.writable = _Value(["src"], ["guessed: the src folder exists; check it"])
        else:
            guess.writable = _Value(
                ["."],
                [
                    "TODO: list only the files and folders the model may change;",
                    "'.' lets it change everything that is not protected below.",
                ],
            )
    protected = [CONFIG_NAME, *guess.protected]
    guess.protected = list(dict.fromkeys(protected))
    return _render(guess)


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


def _guess_go(repo: Path, guess: _Guess) -> None:
    src = ["guessed from go.mod"]
    guess.kind = "go"
    guess.goal = "Make the Go benchmarks faster (lower ns/op) without changing behaviour."
    guess.build = _Value("go build ./...", src)
    guess.check = _Value("go vet ./... && go test ./...", src)
    guess.bench = _Value("go test -run '^$' -bench . -benchmem -count 1 ./...", src)
    guess.metric_name, guess.metric_unit = "ns_per_op", "ns/op"
    guess.metric_comment = [
        "guessed from go.mod: `go test -bench` reports ns/op.",
        "TODO: the schema reads METRIC lines or a CSV file only; until it reads",
        "`go test -bench` output, make the benchmark print `METRIC ns_per_op=<value>`.",
    ]
    go_paths = _go_paths(repo)
    if go_paths:
        guess.writable = _Value(
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


def _guess_rust(repo: Path, guess: _Guess) -> None:
    src = ["guessed from Cargo.toml"]
    guess.kind = "rust"
    guess.goal = "Make the cargo benchmarks faster without changing behaviour."
    guess.build = _Value("cargo build --release", src)
    guess.check = _Value("cargo test", src)
    guess.bench = _Value("cargo bench", src)
    guess.metric_name, guess.metric_unit = "time_ns", "ns"
    guess.metric_comment = [
        "guessed from Cargo.toml: cargo bench reports a time per iteration.",
        "TODO: the schema reads METRIC lines or a CSV file only; make the benchmark",
        "print `METRIC time_ns=<value>` (or point source = 'csv' at a CSV file).",
    ]
    writable: list[str] = []
    if (repo / "src").is_dir():
        writable.append("src")
    for member in _cargo_members(repo):
        if (repo / member / "src").is_dir():
            writable.append(f"{member}/src")
    if writable:
        guess.writable = _Value(writable, ["guessed from Cargo.toml: the crates' src folders"])
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


def _guess_python(repo: Path, guess: _Guess) -> None:
    source = next(name for name in _PYTHON_PROJECT_FILES if (repo / name).is_file())
    guess.kind = "python"
    guess.check = _Value("python -m pytest -q", [f"guessed from {source}"])
    mention = _mentions_pytest_benchmark(repo)
    if mention is not None:
        guess.goal = "Make the pytest-benchmark benchmarks faster without changing behaviour."
        guess.bench = _Value(
            "python -m pytest --benchmark-only --benchmark-json=.perfsup-bench.json",
            [f"guessed from {mention}: it mentions pytest-benchmark"],
        )
        guess.metric_name, guess.metric_unit = "median_s", "s"
        guess.metric_comment = [
            f"guessed from {mention}: pytest-benchmark reports seconds per call.",
            "TODO: the schema reads METRIC lines or a CSV file only; until it reads",
            "pytest-benchmark JSON (.perfsup-bench.json), print `METRIC median_s=<value>`.",
        ]
    paths = _python_paths(repo)
    if paths:
        guess.writable = _Value(paths, [f"guessed from {source}: the package source"])
        guess.build = _Value(
            "python -m compileall -q " + " ".join(shell_quote(p) for p in paths),
            [f"guessed from {source}: a syntax check of the package source"],
        )
    guess.protected = [
        p
        for p in (*_PYTHON_PROJECT_FILES, "conftest.py", "tests", "test", "benchmarks")
        if (repo / p).exists()
    ]


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


def _guess_make(repo: Path, makefile: str, guess: _Guess) -> None:
    """Fill in from the Makefile whatever the ecosystem left open."""
    targets = _make_targets(repo / makefile)
    if guess.kind == "unknown":
        guess.kind = "make"
        if targets:
            guess.build = _Value("make", [f"guessed from {makefile}: its default target"])
    else:
        shown = ", ".join(targets[:12]) or "none"
        guess.notes.append(f"{makefile} found too (targets: {shown}); it fills only gaps.")
    name: str | None
    if guess.check is None:
        name = next((t for t in ("test", "check") if t in targets), None)
        if name is not None:
            guess.check = _Value(f"make {name}", [f"guessed from {makefile}: target {name}"])
    if guess.bench is None:
        name = next((t for t in ("bench", "benchmark", "benchmarks") if t in targets), None)
        if name is not None:
            guess.bench = _Value(f"make {name}", [f"guessed from {makefile}: target {name}"])
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


# --- rendering ------------------------------------------------------------


def _render(guess: _Guess) -> str:
    """The guess as commented TOML text."""
    lines = [
        "# perfsup.toml, written by `perfsup init`. Read every comment: values marked",
        "# 'guessed' come from the files named there, values marked TODO need you.",
        "# sample_config.toml in perfsup's source explains every key.",
    ]
    lines += comments(guess.notes)
    lines += [
        "",
        "[target]",
        "# the repository to optimise: '.' is the folder of this file",
        'repo = "."',
        "# the commit, branch or tag the baseline is taken from",
        'base = "HEAD"',
        "# TODO: say in words what to make faster; the model reads this first",
        f"goal = {toml_str(guess.goal)}",
    ]
    for table, value in (("build", guess.build), ("check", guess.check)):
        lines.append("")
        if value is None:
            lines += [
                f"# TODO: no {table} command found; uncomment and set one, or leave it out",
                f"# [{table}]",
                '# run = "..."',
            ]
            continue
        lines += [f"[{table}]", *comments(value.comment), f"run = {toml_value(value.value)}"]
        lines.append("timeout_s = 600")
    lines += ["", "[bench]"]
    if guess.bench is None:
        lines += comments(
            [
                "TODO: no benchmark found. Replace this placeholder with a command that",
                "prints `METRIC time_ms=<float>` on stdout, for example `python bench.py`.",
            ]
        )
        lines.append(f"run = {toml_str(PLACEHOLDER_BENCH)}")
    else:
        lines += [*comments(guess.bench.comment), f"run = {toml_value(guess.bench.value)}"]
    lines += [
        "timeout_s = 600",
        "# interleaved parent/candidate pairs per decision, and uncounted runs first",
        "pairs = 6",
        "warmup = 1",
        "",
        "# the metrics, most important first",
        "[[metrics]]",
        *comments(
            guess.metric_comment
            or ["TODO: the metric your benchmark prints as `METRIC time_ms=<float>`"]
        ),
        f"name = {toml_str(guess.metric_name)}",
        f"unit = {toml_str(guess.metric_unit)}",
        'direction = "lower"',
        'source = "metric_lines"',
        "",
        "[access]",
    ]
    assert guess.writable is not None
    lines += [*comments(guess.writable.comment), f"writable = {toml_value(guess.writable.value)}"]
    lines += [
        "# files the model must never change: the config, the project files, the tests",
        f"protected = {toml_value(guess.protected)}",
        "# files the model must not even see",
        "hidden = []",
        "",
        "[model]",
        "# a local Ollama model; fetch it first with `ollama pull " + DEFAULT_MODEL + "`",
        'backend = "ollama"',
        f"name = {toml_str(DEFAULT_MODEL)}",
        "",
        "[budgets]",
        "# the run stops after this many experiments",
        "max_experiments = 50",
        "",
        "[decision]",
        "# the smallest relative gain that is kept (0.02 = 2%)",
        "min_effect = 0.02",
        "",
    ]
    return "\n".join(lines)
