"""The hot functions of a Go CPU profile, from `go tool pprof -traces -lines`.

`go test -bench -cpuprofile` writes the profile; `go tool pprof -traces
-lines -unit ms` prints each distinct stack once with its time, innermost
frame first, one `name path:line [(inline)]` per frame (inlined calls are
frames of their own), blocks separated by `-----------+----...` lines:

         10ms   runtime.mallocgc /usr/lib/go/src/runtime/malloc.go:1018
                example.com/linestat.splitFields /repo/linestat.go:25
                example.com/linestat.SumColumns /repo/linestat.go:12

Only functions of the worktree (not `_test.go` files) become rows, in the row
shape of the cProfile top functions (`HotFunction`), so that a Go hot function
becomes a code slice of the prompt exactly like a Python one:

- own time (`self_s`): samples whose innermost worktree frame is the
  function, which counts the runtime and standard library it calls (the
  allocation a `make` costs belongs to the function that makes it);
- time with what it calls (`cumulative_s`): samples it is anywhere in;
- `line`: the first line of it seen in a sample (inside its body: the slicer
  finds the function holding that line); `calls`: 0 (pprof does not count).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from perfsup.metrics.errors import MetricParseError
from perfsup.metrics.profiles.pyprofile import HotFunction

PPROF_DIR = ".perfsup-pprof"  # in the worktree: the only place a sandboxed step may write
TRACES_FILE = "traces.txt"

_SEPARATOR = re.compile(r"^-+\+-+$")
_VALUE = re.compile(r"^\s*(?P<value>\d+(?:\.\d+)?)(?P<unit>[a-zµ]+)\s+(?P<frame>\S.*)$")
_FRAME = re.compile(r"^(?P<name>\S+)(?: (?P<file>.+?):(?P<line>\d+))?(?: \(inline\))?$")
_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0}
_SECONDS |= {"m": 60.0, "min": 60.0, "mins": 60.0, "h": 3600.0, "hr": 3600.0, "hrs": 3600.0}
_CLOSURE = re.compile(r"(\.func\d+)+(\.\d+)*$")


@dataclass(frozen=True)
class _Frame:
    function: str  # as in the source: `SumColumns`, `Counter.Add`
    file: str  # relative to the worktree
    line: int


def pprof_command(packages: str, benchtime: str) -> str:
    """The shell line that profiles the benchmarks of `packages` and prints their traces.

    `go test` takes `-cpuprofile` for one package at a time, so each package of
    the pattern gets a profile of its own; `go tool pprof` merges them. The
    test binaries go in the profile folder too (`-o`), never beside the code.
    """
    folder = PPROF_DIR
    return (
        f"rm -rf {folder} && mkdir {folder} && n=0 && "
        f"for p in $(go list {packages}); do n=$((n+1)); "
        f"go test -run '^$' -bench . -benchtime {benchtime} -o {folder}/$n.test "
        f'-cpuprofile {folder}/$n.pprof "$p" || exit $?; done && '
        f"if ! ls {folder}/*.pprof >/dev/null 2>&1; then "
        f"echo 'no package of {packages} has tests: nothing to profile'; exit 3; fi && "
        f"go tool pprof -traces -lines -unit ms {folder}/*.pprof > {folder}/{TRACES_FILE}"
    )


def go_hot_functions(
    text: str, root: Path, module: str | None = None, top: int = 20
) -> list[HotFunction]:
    """The `top` worktree functions of a `-traces -lines` text, by own time.

    `root`: the worktree (pprof names absolute paths); `module`: the module
    path of its go.mod, for paths a `-trimpath` build printed as `module/file`.
    """
    if "-----------+" not in text:
        last = text.strip().splitlines()[-1] if text.strip() else "nothing"
        raise MetricParseError(f"no samples in the pprof traces (expected stacks; got: {last})")
    bases = tuple(dict.fromkeys([root.absolute(), root.resolve()]))  # as built, and real
    own: dict[tuple[str, str], float] = {}
    total: dict[tuple[str, str], float] = {}
    first_line: dict[tuple[str, str], int] = {}
    for seconds, frames in _samples(text):
        ours = (_ours(name, file, line, bases, module) for name, file, line in frames)
        mine = [frame for frame in ours if frame is not None]
        if not mine:
            continue
        innermost = (mine[0].file, mine[0].function)
        own[innermost] = own.get(innermost, 0.0) + seconds
        for frame in mine:
            key = (frame.file, frame.function)
            first_line[key] = min(first_line.get(key, frame.line), frame.line)
        for key in {(f.file, f.function) for f in mine}:  # once per sample: recursion
            total[key] = total.get(key, 0.0) + seconds
    rows = [
        HotFunction(
            file,
            first_line[(file, name)],
            name,
            0,
            round(own.get((file, name), 0.0), 6),
            round(cum, 6),
        )
        for (file, name), cum in total.items()
    ]
    if not rows:
        raise MetricParseError(f"no sample ran code of {root} (expected its functions in stacks)")
    rows.sort(key=lambda r: (r.self_s, r.cumulative_s), reverse=True)
    return rows[:top]


def source_name(pprof_name: str) -> str:
    """`example.com/m/pkg.(*Counter).Add` -> `Counter.Add`, closures to their function.

    The slicer and the regions name a method `Type.Name` and a function by its
    name; a closure's time is spent in the code of the function it is written in.
    """
    name = pprof_name.rsplit("/", 1)[-1]
    name = name.split(".", 1)[1] if "." in name else name  # drop the package name
    name = re.sub(r"\[[^\]]*\]", "", name)  # generic instantiations: `Map[...]`
    name = name.replace("(*", "").replace("(", "").replace(")", "")
    return _CLOSURE.sub("", name) or name


def _samples(text: str) -> list[tuple[float, list[tuple[str, str | None, int]]]]:
    """(seconds, frames innermost first) of each block after the header."""
    blocks: list[tuple[float, list[tuple[str, str | None, int]]]] = []
    current: tuple[float, list[tuple[str, str | None, int]]] | None = None
    started = False
    for raw in text.splitlines():
        line = raw.rstrip()
        if _SEPARATOR.match(line.strip()):
            started = True
            current = None
            continue
        if not started or not line.strip():
            continue
        value = _VALUE.match(line) if current is None else None
        if value is not None and value["unit"] in _SECONDS:
            current = (float(value["value"]) * _SECONDS[value["unit"]], [])
            blocks.append(current)
            line = value["frame"]
        elif current is None:
            continue  # a sample's labels come before its value line
        frame = _FRAME.match(line.strip())
        if frame is not None:
            number = int(frame["line"]) if frame["line"] else 0
            current[1].append((frame["name"], frame["file"], number))
    return blocks


def _ours(
    name: str, file: str | None, line: int, bases: tuple[Path, ...], module: str | None
) -> _Frame | None:
    """The frame as a worktree function, or None for the runtime, libraries and tests."""
    if file is None or file.endswith("_test.go"):
        return None
    relative = _relative(file, bases, module)
    if relative is None:
        return None
    return _Frame(source_name(name), relative, line)


def _relative(file: str, bases: tuple[Path, ...], module: str | None) -> str | None:
    path = PurePosixPath(file)
    if path.is_absolute():
        for base in bases:
            if path.is_relative_to(base.as_posix()):
                return str(path.relative_to(base.as_posix()))
        return None
    if module and file.startswith(module + "/"):
        return file[len(module) + 1 :]
    return None


def module_path(go_mod: str) -> str | None:
    """The `module` line of a go.mod text."""
    for line in go_mod.splitlines():
        words = line.split("//", 1)[0].split()
        if len(words) == 2 and words[0] == "module":
            return words[1].strip('"')
    return None
