"""Code slices: the hot functions of a long file, not the whole file.

A 3,000-line module costs a small model's whole context, and cutting it to
its first lines loses the code the profile points at. A slice keeps, as
verbatim lines of the file (so that a SEARCH block copied from it matches
and a REGION names a real function):

- the imports (and, for Go, the package clause);
- each hot function whole (a method under its class line);
- the signatures and docstrings of what the hot functions call that is
  defined elsewhere in the same file;
- an outline of the rest: the names and signatures of the other functions
  and classes, with their line numbers.

Python is parsed with `ast`, Go with tree-sitter (`perfsup.agent.goslices`).
`SliceLevel` makes a slice smaller step by step (no outline, then no
callees, then only the hottest function) for a tight budget or a retry.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from pathlib import PurePosixPath

from perfsup.agent.limits import parse_python_or_none
from perfsup.agent.outline import Outline, Unit

MAX_OUTLINE = 40  # outline entries, the nearest to the hot code: a file may have hundreds


class SliceLevel(IntEnum):
    """How much of a slice to keep, from the most to the least."""

    FULL = 0  # hot functions, callees' signatures, outline of the rest
    NO_OUTLINE = 1
    NO_CALLEES = 2
    HOTTEST_ONLY = 3  # the hottest function and the imports


@dataclass(frozen=True)
class CodeSlice:
    """The text shown to the model for one file, and what it holds whole."""

    text: str  # the rendered slice (file lines, elisions, signatures, outline)
    code: str  # only the verbatim parts (imports and hot functions): for a retry grammar
    functions: list[str]  # the names of the functions shown whole, hottest first
    lines: int  # lines of the whole file


def outline(path: str, text: str) -> Outline | None:
    """The file's imports and definitions, or None for a language the slicer cannot read."""
    suffix = PurePosixPath(path).suffix.lower()
    if suffix in (".py", ".pyi"):
        return _python_outline(text)
    if suffix == ".go":
        from perfsup.agent.goslices import go_outline

        return go_outline(text)
    return None


def find_unit(units: Sequence[Unit], name: str, line: int | None = None) -> Unit | None:
    """The unit a profile row names: the innermost one holding `line`, else by name."""
    if line is not None:
        holding = [u for u in units if u.start <= line <= u.end]
        if holding:
            return min(holding, key=lambda u: u.end - u.start)
    short = _short_name(name)
    named = [u for u in units if u.name == name or u.name.split(".")[-1] == short]
    return named[0] if named else None


def slice_source(
    path: str,
    text: str,
    hot: Sequence[tuple[str, int | None]],
    level: SliceLevel = SliceLevel.FULL,
) -> CodeSlice | None:
    """The slice of `text` around the `hot` (function name, line) pairs, hottest first.

    None when the language is not known, the file does not parse, or none of
    the hot functions is found in it.
    """
    shape = outline(path, text)
    if shape is None:
        return None
    chosen: list[Unit] = []
    for name, line in hot:
        unit = find_unit(shape.units, name, line)
        if unit is not None and unit not in chosen:
            chosen.append(unit)
    if not chosen:
        return None
    if level >= SliceLevel.HOTTEST_ONLY:
        chosen = chosen[:1]
    lines = text.splitlines()
    comment = "//" if path.endswith(".go") else "#"
    verbatim = _verbatim(lines, shape.header, chosen, comment)
    parts = [verbatim]
    if level < SliceLevel.NO_CALLEES:
        callees = _callees(shape.units, chosen)
        if callees:
            parts.append(
                f"{comment} Signatures of what the code above calls (defined elsewhere in "
                "this file, not shown whole):\n" + "\n".join(_signature(u) for u in callees)
            )
    if level < SliceLevel.NO_OUTLINE:
        shown = {u.name for u in [*chosen, *_callees(shape.units, chosen)]}
        rest = [u for u in shape.units if u.name not in shown]
        listed = _nearest(rest, chosen)
        if listed:
            more = len(rest) - len(listed)
            parts.append(
                f"{comment} Outline of the rest of this file (line: signature; not shown):\n"
                + "\n".join(f"{comment} {u.start}: {_first_line_of(u)}" for u in listed)
                + (f"\n{comment} ({more} more definitions not listed)" if more else "")
            )
    code = _verbatim(lines, shape.header, chosen, comment, marks=False)
    return CodeSlice("\n\n".join(parts) + "\n", code, [u.name for u in chosen], len(lines))


def _short_name(name: str) -> str:
    """`pkg.(*T).Method` -> `Method`, `mod.Class.fn` -> `fn`, `<listcomp>` stays."""
    return name.rsplit(".", 1)[-1].strip("()*")


def _verbatim(
    lines: list[str],
    header: list[tuple[int, int]],
    units: list[Unit],
    comment: str,
    *,
    marks: bool = True,
) -> str:
    """The header and the units' lines in file order, with a note for each gap."""
    spans = sorted({*header, *((u.start, u.end) for u in units)})
    containers = {u.start: u.container for u in units if u.container}
    out: list[str] = []
    shown_up_to = 0
    for start, end in spans:
        if start <= shown_up_to:
            start = shown_up_to + 1
            if start > end:
                continue
        if marks and start > shown_up_to + 1:
            gap = lines[shown_up_to : start - 1]
            blank = all(not line.strip() for line in gap)
            out.append(
                "" if blank else f"{comment} ... (lines {shown_up_to + 1}-{start - 1} not shown)"
            )
        container = containers.get(start)
        if container:
            out.append(container)
        out.extend(lines[start - 1 : end])
        shown_up_to = end
    if marks and shown_up_to < len(lines):
        out.append(f"{comment} ... (lines {shown_up_to + 1}-{len(lines)} not shown)")
    return "\n".join(out)


def _callees(units: Sequence[Unit], chosen: Sequence[Unit]) -> list[Unit]:
    """The units the chosen ones call, in file order, not themselves.

    A plain call `f()` names a top-level function, a call `x.f()` a method
    (the calls hold `.f` for those): a builtin `str()` is no method `str`.
    """
    called = set().union(*(u.calls for u in chosen))

    def wanted(unit: Unit) -> bool:
        short = unit.name.split(".")[-1]
        return (f".{short}" if unit.container or "." in unit.name else short) in called

    return [u for u in units if u not in chosen and wanted(u)]


def _nearest(rest: Sequence[Unit], chosen: Sequence[Unit]) -> list[Unit]:
    """At most MAX_OUTLINE entries of `rest`, the nearest to the hot code, in file order."""
    if len(rest) <= MAX_OUTLINE:
        return list(rest)

    def distance(unit: Unit) -> int:
        return min(min(abs(unit.start - c.start), abs(unit.start - c.end)) for c in chosen)

    kept = sorted(rest, key=distance)[:MAX_OUTLINE]
    return sorted(kept, key=lambda u: u.start)


def _first_line_of(unit: Unit) -> str:
    """The signature's first line, indented as in the file (a method under its class)."""
    first = unit.signature.splitlines()[0].rstrip() if unit.signature else unit.name
    return first + " ..." if first.endswith(("(", ",")) else first  # a def on several lines


def _signature(unit: Unit) -> str:
    # the first line of prose says what it does (doctest lines do not)
    prose = [line.strip() for line in unit.doc.splitlines() if line.strip()]
    prose = [line for line in prose if not line.startswith(">>>")][:1]
    if not prose:
        return unit.signature.rstrip()
    first = prose[0][:160]
    indent = " " * (len(unit.signature) - len(unit.signature.lstrip()) + 4)
    if unit.doc.startswith("//"):  # Go: the comment comes above
        return f"{first}\n{unit.signature.rstrip()}"
    return f'{unit.signature.rstrip()}\n{indent}"""{first}"""'


# ------------------------------------------------------------------ Python
def _python_outline(text: str) -> Outline | None:
    tree = parse_python_or_none(text)
    if tree is None:
        return None
    lines = text.splitlines()
    header: list[tuple[int, int]] = []
    units: list[Unit] = []
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            header.append((node.lineno, node.end_lineno or node.lineno))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            units.append(_python_unit(node, node.name, lines))
        elif isinstance(node, ast.ClassDef):
            start = _first_line(node)
            class_line = "\n".join(lines[start - 1 : node.body[0].lineno - 1]).rstrip()
            units.append(
                Unit(node.name, start, node.end_lineno or start, lines[node.lineno - 1],
                     ast.get_docstring(node) or "", calls=frozenset())
            )  # fmt: skip
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    units.append(_python_unit(item, f"{node.name}.{item.name}", lines, class_line))
    # a class holds its methods: find_unit picks the innermost, the outline lists both
    return Outline(header, units)


def _python_unit(
    node: ast.FunctionDef | ast.AsyncFunctionDef, name: str, lines: list[str], container: str = ""
) -> Unit:
    start = _first_line(node)
    body = node.body[0].lineno
    if body == node.lineno:  # `def f(): return 1`: the whole line is its signature
        signature = lines[node.lineno - 1]
    else:
        signature = "\n".join(lines[node.lineno - 1 : body - 1])
        # a docstring's lines and the body start at `body`; the def may span lines
        signature = signature.rstrip()
    calls = frozenset(
        call.func.id if isinstance(call.func, ast.Name) else f".{call.func.attr}"
        for call in ast.walk(node)
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name | ast.Attribute)
    )
    return Unit(
        name, start, node.end_lineno or start, signature, ast.get_docstring(node) or "",
        container, calls,
    )  # fmt: skip


def _first_line(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> int:
    return min([node.lineno, *(d.lineno for d in node.decorator_list)])
