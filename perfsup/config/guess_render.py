"""The text of a guessed perfsup.toml: every value with the comment that says
where it came from, TODO where perfsup could not guess (see `guess.py`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from perfsup.config.guess_bench import MetricGuess
from perfsup.config.guess_env import venv_lines

#: File name `write_init` writes into the repository.
CONFIG_NAME = "perfsup.toml"

#: The model `perfsup init` proposes: a local Ollama model that writes decent code.
DEFAULT_MODEL = "qwen2.5-coder:7b"

#: The bench placeholder: fails loudly until the person replaces it.
PLACEHOLDER_BENCH = "echo 'perfsup: set bench.run in perfsup.toml' >&2; exit 2"


@dataclass
class Value:
    """One guessed value and the comment lines written above it."""

    value: str | list[str]
    comment: list[str]


@dataclass
class Guess:
    """Everything guessed about a repository, before it is rendered as TOML."""

    kind: str = "unknown"
    goal: str = "Make the benchmark faster without changing behaviour."
    build: Value | None = None
    check: Value | None = None
    bench: Value | None = None
    metrics: list[MetricGuess] = field(default_factory=lambda: [MetricGuess("time_ms", "ms")])
    metric_comment: list[str] = field(default_factory=list)
    writable: Value | None = None
    protected: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sandbox_writable: Value | None = None  # e.g. Go's caches, outside the worktree
    venv: tuple[str, str] | None = None  # [target] venv and where it was found


# --- rendering ------------------------------------------------------------


def _toml_str(text: str) -> str:
    """A TOML basic string for `text`."""
    out = ['"']
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _toml_value(value: str | list[str]) -> str:
    if isinstance(value, str):
        return _toml_str(value)
    return "[" + ", ".join(_toml_str(v) for v in value) + "]"


def _comments(lines: list[str]) -> list[str]:
    return [f"# {line}" for line in lines]


def render(guess: Guess) -> str:
    """The guess as commented TOML text."""
    lines = [
        "# perfsup.toml, written by `perfsup init`. Read every comment: values marked",
        "# 'guessed' come from the files named there, values marked TODO need you.",
        "# sample_config.toml in perfsup's source explains every key.",
    ]
    lines += _comments(guess.notes)
    lines += [
        "",
        "[target]",
        "# the repository to optimise: '.' is the folder of this file",
        'repo = "."',
        "# the commit, branch or tag the baseline is taken from",
        'base = "HEAD"',
        "# TODO: say in words what to make faster; the model reads this first",
        f"goal = {_toml_str(guess.goal)}",
        *venv_lines(guess.venv),
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
        lines += [f"[{table}]", *_comments(value.comment), f"run = {_toml_value(value.value)}"]
        lines.append("timeout_s = 600")
    lines += ["", "[bench]"]
    if guess.bench is None:
        lines += _comments(
            [
                "TODO: no benchmark found. Replace this placeholder with a command that",
                "prints `METRIC time_ms=<float>` on stdout, for example `python bench.py`.",
            ]
        )
        lines.append(f"run = {_toml_str(PLACEHOLDER_BENCH)}")
    else:
        lines += [*_comments(guess.bench.comment), f"run = {_toml_value(guess.bench.value)}"]
    lines += [
        "timeout_s = 600",
        "# interleaved parent/candidate pairs per decision (up to twice as many while the",
        "# estimate sits near min_effect), and uncounted runs first; 20 pairs find a real",
        "# 3% gain on a typical home machine about 9 times in 10 (benchmarks/decision_sim.py)",
        "pairs = 20",
        "warmup = 1",
        "",
        "# the metrics, most important first",
        *_comments(
            guess.metric_comment
            or ["TODO: the metric your benchmark prints as `METRIC time_ms=<float>`"]
        ),
    ]
    for metric in guess.metrics:
        lines += _metric_lines(metric)
    lines += ["", "[access]"]
    assert guess.writable is not None
    lines += [*_comments(guess.writable.comment), f"writable = {_toml_value(guess.writable.value)}"]
    lines += [
        "# files the model must never change: the config, the project files, the tests",
        f"protected = {_toml_value(guess.protected)}",
        "# files the model must not even see",
        "hidden = []",
        "",
        "[model]",
        "# a local Ollama model; fetch it first with `ollama pull " + DEFAULT_MODEL + "`",
        'backend = "ollama"',
        f"name = {_toml_str(DEFAULT_MODEL)}",
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
    if guess.sandbox_writable is not None:
        lines += [
            "[sandbox]",
            *_comments(guess.sandbox_writable.comment),
            f"writable_paths = {_toml_value(guess.sandbox_writable.value)}",
            "",
        ]
    return "\n".join(lines)


def _metric_lines(metric: MetricGuess) -> list[str]:
    lines = [
        "[[metrics]]",
        f"name = {_toml_str(metric.name)}",
        f"unit = {_toml_str(metric.unit)}",
        f"direction = {_toml_str(metric.direction)}",
        f"source = {_toml_str(metric.source)}",
    ]
    if metric.path is not None:
        lines.append(f"path = {_toml_str(metric.path)}")
    if metric.field is not None:
        lines.append(f"field = {_toml_str(metric.field)}")
    return lines
