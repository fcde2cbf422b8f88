"""Write a parsed edit into the files of a worktree, repairing safe near misses.

A search/replace block is matched line by line, trying in order:

1. the exact lines, once;
2. the same lines ignoring trailing whitespace;
3. the same, after dropping blank lines at the edges of the block (from the
   search and the replace text alike);
4. a uniform indentation shift: every line indented by the same extra (or
   missing) amount, the replace text shifted the same way;
5. a unique close match: the window of the file most similar to the search
   text (difflib ratio >= 0.95) when the best window not overlapping it is
   clearly worse (for blocks of up to 400 characters: see `linematch`).

The first step that finds the block decides: one place applies, two or more
places raise `EditDoesNotApply` (ambiguous), none moves on. Every step takes
bounded time whatever the SEARCH text holds (`perfsup.agent.linematch`). Matching is by
whole lines, never inside a line: a search fragment like `x = 1` must not
match the tail of `max = 1`.

All blocks are applied in memory first; nothing is written unless every block
applies, so a failed edit never leaves a half-changed worktree. A Python file
that no longer parses after the edit is refused too.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from perfsup.agent.edits import ProposedEdit, RegionRewrite, SearchReplace
from perfsup.agent.limits import SyntaxProblem, parse_python, parse_python_or_none
from perfsup.agent.linematch import MAX_PLACES, find_runs, similar_windows, split_lines

NEAR_MATCH_RATIO = 0.95
_RUNNER_UP_GAP = 0.02  # the best near match must beat any other window by this much
_HINT_RATIO = 0.6  # below this the closest lines are not worth showing the model


class EditDoesNotApply(ValueError):
    """An edit that cannot be applied; the message names the file, block and reason."""


@dataclass
class _Text:
    """A file as lines without line ends, plus how to write it back the same way."""

    lines: list[str]
    newline: str
    final_newline: bool

    @classmethod
    def parse(cls, content: str) -> _Text:
        newline = "\r\n" if "\r\n" in content else "\n"
        return cls(split_lines(content), newline, content.endswith("\n"))

    def render(self) -> str:
        body = self.newline.join(self.lines)
        return body + self.newline if self.lines and self.final_newline else body


def apply_edit(root: Path, edit: ProposedEdit) -> list[str]:
    """Apply `edit` to the files under `root`; return the paths that changed.

    Paths are taken as given (relative to `root`); the caller has checked them
    against the access rules. Raises `EditDoesNotApply` if a block does not
    match exactly one place, a region is not found, a Python file would no
    longer parse, or the edit as a whole changes nothing.
    """
    originals: dict[str, str | None] = {}
    current: dict[str, str] = {}
    parsed: dict[str, _Text] = {}  # blocks change these lines; `current` is rendered after

    def load(path: str) -> str | None:
        if path not in originals:
            originals[path] = _read(root, path)
            if originals[path] is not None:
                current[path] = originals[path] or ""
        return current.get(path)

    for number, block in enumerate(edit.blocks, start=1):
        content = load(block.path)
        if block.path in parsed:
            _apply_block(block, number, content, parsed[block.path])
        else:
            new = _apply_block(block, number, content, None)
            if isinstance(new, str):
                current[block.path] = new
            else:
                parsed[block.path] = new
    for path, text in parsed.items():
        current[path] = text.render()
    if edit.region is not None:
        content = load(edit.region.path)
        if content is None:
            raise EditDoesNotApply(
                f"{edit.region.path}: no such file; expected REGION to name an existing file"
            )
        current[edit.region.path] = _apply_region(edit.region, content)

    changed = [path for path in current if current[path] != originals[path]]
    if not changed:
        raise EditDoesNotApply(
            "the edit changes nothing: the new text is the same as the old; expected a "
            "change to the code"
        )
    for path in changed:
        _check_parses(path, current[path])
    for path in changed:
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(current[path], encoding="utf-8", newline="")
    return changed


def _read(root: Path, path: str) -> str | None:
    target = root / path
    if not target.exists():
        return None
    try:
        return target.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise EditDoesNotApply(f"{path}: not UTF-8 text; expected a source file") from None
    except IsADirectoryError:
        raise EditDoesNotApply(f"{path}: is a folder; expected a file") from None


def _apply_block(
    block: SearchReplace, number: int, content: str | None, text: _Text | None
) -> str | _Text:
    """The new file of a block on a missing file; else the lines of `text` (parsed
    from `content` when None), changed in place."""
    where = f"{block.path}, block {number}"
    if not block.search.strip():
        if content is not None:
            raise EditDoesNotApply(
                f"{where}: the SEARCH section is empty but the file exists; an empty SEARCH "
                "only creates a new file, expected SEARCH to copy the lines to change"
            )
        return block.replace
    if content is None:
        raise EditDoesNotApply(
            f"{where}: no such file; expected the path of an existing file (or an empty "
            "SEARCH section to create it)"
        )
    if text is None:
        text = _Text.parse(content)
    search = split_lines(block.search)
    replace = split_lines(block.replace)
    start, length, new_lines = _locate(text.lines, search, replace, block.path, where)
    text.lines[start : start + length] = new_lines
    return text


_Found = list[tuple[int, int, list[str]]]  # (start, length, new lines) per matching place
_Matcher = Callable[[list[str], list[str], list[str]], _Found]


def _locate(
    lines: list[str], search: list[str], replace: list[str], path: str, where: str
) -> tuple[int, int, list[str]]:
    """(start, length, new lines) of the one place the block applies to."""
    trimmed_search, trimmed_replace = _trim_blank_edges(search, replace)
    # the close match and the hint share one look at the file's similar windows
    similar = _Similar(lines, trimmed_search)

    def near(lines: list[str], search: list[str], replace: list[str]) -> _Found:
        return _near(similar.windows(), len(search), replace)

    attempts: list[tuple[str, _Matcher, list[str], list[str]]] = [
        ("exactly", _exact, search, replace),
        ("ignoring trailing whitespace", _loose, search, replace),
        ("without its blank edge lines", _loose, trimmed_search, trimmed_replace),
        ("with shifted indentation", _shifted, trimmed_search, trimmed_replace),
        ("as a close match", near, trimmed_search, trimmed_replace),
    ]
    for how, matcher, s, r in attempts:
        if not s:
            continue
        found = matcher(lines, s, r)
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            places = ", ".join(str(start + 1) for start, _, _ in found[:5])
            count = f"{len(found)} or more" if len(found) >= MAX_PLACES else str(len(found))
            raise EditDoesNotApply(
                f"{where}: the SEARCH text matches {count} places ({how}, at lines "
                f"{places}); expected it to match exactly one: add surrounding lines to make "
                f"it unique. SEARCH starts with: {_first_lines(search)}"
            )
    raise EditDoesNotApply(
        f"{where}: the SEARCH text does not match the file; expected SEARCH to copy lines "
        f"of {path} exactly. SEARCH starts with: {_first_lines(search)}"
        + _closest_hint(lines, trimmed_search, similar)
    )


def _exact(lines: list[str], search: list[str], replace: list[str]) -> _Found:
    return [(i, len(search), replace) for i in find_runs(lines, search)]


def _loose(lines: list[str], search: list[str], replace: list[str]) -> _Found:
    stripped = [line.rstrip() for line in lines]
    target = [line.rstrip() for line in search]
    return [(i, len(target), replace) for i in find_runs(stripped, target)]


def _shifted(lines: list[str], search: list[str], replace: list[str]) -> _Found:
    """Windows equal to `search` once both sides lose their common indentation."""
    k = len(search)
    s_indent = _common_indent(search)
    target = [_dedent_line(line, s_indent) for line in search]
    found: _Found = []
    # only where the lines agree without any indentation can they agree shifted
    bare = [line.strip() for line in lines]
    for i in find_runs(bare, [line.strip() for line in search]):
        window = lines[i : i + k]
        f_indent = _common_indent(window)
        if [_dedent_line(line, f_indent) for line in window] != target:
            continue
        prefix = _indent_of(next(line for line in window if line.strip()))[:f_indent]
        found.append((i, k, _reindent(replace, s_indent, prefix)))
    return found


class _Similar:
    """The windows of `lines` most similar to `search` (ratio >= the hint's floor),
    looked for once, when first asked."""

    def __init__(self, lines: list[str], search: list[str]) -> None:
        self.lines = lines
        self.search = search
        self._found: list[tuple[float, int]] | None = None

    def windows(self) -> list[tuple[float, int]]:
        if self._found is None:
            self._found = similar_windows(self.lines, self.search, _HINT_RATIO)
        return self._found


def _near(similar: list[tuple[float, int]], k: int, replace: list[str]) -> _Found:
    """The one window of k lines clearly most similar to the search, if similar enough."""
    scored = [(ratio, start) for ratio, start in similar if ratio >= NEAR_MATCH_RATIO]
    if not scored:
        return []
    best_ratio, best = scored[0]
    for ratio, start in scored[1:]:
        overlaps = abs(start - best) < k
        if not overlaps and ratio > best_ratio - _RUNNER_UP_GAP:
            # two distinct places are about as close: ambiguous
            return [(best, k, replace), (start, k, replace)]
    return [(best, k, replace)]


def _closest_hint(lines: list[str], search: list[str], similar: _Similar) -> str:
    if not search or len(lines) > 20_000:
        return ""
    scored = similar.windows()
    if not scored:
        return ""
    ratio, start = scored[0]
    return (
        f". The closest lines in the file ({ratio:.0%} similar) start at line {start + 1}: "
        f"{_first_lines(lines[start : start + len(search)])}"
    )


def _apply_region(region: RegionRewrite, content: str) -> str:
    """Replace the region's lines; a `perfsup:begin NAME` marker wins over a def of that name."""
    text = _Text.parse(content)
    span = _marker_span(region, text.lines) or _python_span(region, text.lines, content)
    if span is None:
        raise EditDoesNotApply(
            f"{region.path}: no function or method {region.region!r} and no "
            f"'perfsup:begin {region.region}' marker; expected REGION to name a top-level "
            "function, a method as Class.method, or a marked block"
        )
    start, end, indent, markers = span
    new_lines = split_lines(region.new_text)
    if markers:  # keep the marker lines; drop them if the model repeated them
        new_lines = [line for line in new_lines if not _is_marker(line, region.region)]
    dedented = split_lines(textwrap.dedent("\n".join(new_lines)))
    text.lines[start:end] = _reindent(dedented, 0, indent)
    return text.render()


def _marker_span(region: RegionRewrite, lines: list[str]) -> tuple[int, int, str, bool] | None:
    """Lines strictly between `perfsup:begin NAME` and `perfsup:end NAME`."""
    begin = _marker_pattern("begin", region.region)
    end = _marker_pattern("end", region.region)
    begins = [i for i, line in enumerate(lines) if begin.search(line)]
    if not begins:
        return None
    if len(begins) > 1:
        raise EditDoesNotApply(
            f"{region.path}: the marker 'perfsup:begin {region.region}' appears "
            f"{len(begins)} times; expected it once"
        )
    ends = [i for i, line in enumerate(lines) if end.search(line) and i > begins[0]]
    if not ends:
        raise EditDoesNotApply(
            f"{region.path}: 'perfsup:begin {region.region}' has no 'perfsup:end "
            f"{region.region}' after it; expected a closing marker"
        )
    inner = lines[begins[0] + 1 : ends[0]]
    body = [line for line in inner if line.strip()]
    indent = _indent_of(body[0])[: _common_indent(body)] if body else _indent_of(lines[begins[0]])
    return begins[0] + 1, ends[0], indent, True


def _python_span(
    region: RegionRewrite, lines: list[str], content: str
) -> tuple[int, int, str, bool] | None:
    """Lines of the function, method or class named `region` (decorators included)."""
    if not region.path.endswith((".py", ".pyi")):
        return None
    tree = parse_python_or_none(content)
    if tree is None:
        return None
    nodes: list[ast.stmt] = list(tree.body)
    found: list[ast.stmt] = []
    parts = region.region.split(".")
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        kinds: tuple[type, ...] = (
            (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef) if last else (ast.ClassDef,)
        )
        found = [n for n in nodes if isinstance(n, kinds) and getattr(n, "name", None) == part]
        if len(found) > 1:
            raise EditDoesNotApply(
                f"{region.path}: {len(found)} definitions named {part!r}; expected one "
                "(name the region by a marker instead)"
            )
        if not found:
            return None
        nodes = list(getattr(found[0], "body", []))
    node = found[0]
    decorators = getattr(node, "decorator_list", [])
    start = min([node.lineno, *(d.lineno for d in decorators)]) - 1
    end = node.end_lineno or node.lineno
    return start, end, _indent_of(lines[start]), False


def _check_parses(path: str, content: str) -> None:
    if path.endswith(".go"):
        _check_go_parses(path, content)
        return
    if not path.endswith((".py", ".pyi")):
        return
    try:
        parse_python(content)
    except SyntaxProblem as exc:
        raise EditDoesNotApply(
            f"{path}: after the edit the file no longer parses ({exc}); "
            "expected valid Python with consistent indentation"
        ) from None


def _trim_blank_edges(search: list[str], replace: list[str]) -> tuple[list[str], list[str]]:
    def trim(lines: list[str]) -> list[str]:
        start, end = 0, len(lines)
        while start < end and not lines[start].strip():
            start += 1
        while end > start and not lines[end - 1].strip():
            end -= 1
        return lines[start:end]

    return trim(search), trim(replace)


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _common_indent(lines: list[str]) -> int:
    widths = [len(_indent_of(line)) for line in lines if line.strip()]
    return min(widths) if widths else 0


def _dedent_line(line: str, width: int) -> str:
    return line[width:].rstrip() if line.strip() else ""


def _reindent(lines: list[str], old_width: int, prefix: str) -> list[str]:
    """Move lines from a common indentation of `old_width` to `prefix`."""
    out: list[str] = []
    for line in lines:
        if not line.strip():
            out.append("")
            continue
        own = len(_indent_of(line))
        out.append(prefix + line[min(own, old_width) :])
    return out


def _marker_pattern(kind: str, name: str) -> re.Pattern[str]:
    return re.compile(rf"perfsup:{kind}\s+{re.escape(name)}(?![\w.\-])")


def _is_marker(line: str, name: str) -> bool:
    return any(_marker_pattern(kind, name).search(line) for kind in ("begin", "end"))


def _first_lines(lines: list[str], count: int = 3) -> str:
    shown = [line.strip() for line in lines if line.strip()][:count]
    return " / ".join(repr(line) for line in shown) or "(blank lines)"


def _check_go_parses(path: str, content: str) -> None:
    """`gofmt -e` on the new text, where Go is installed (else the build will tell)."""
    gofmt = shutil.which("gofmt")
    if gofmt is None:
        return
    try:
        done = subprocess.run(
            [gofmt, "-e"], input=content, capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return  # a broken gofmt must not block the edit: the build still checks it
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["syntax error"])[0]
        first = first.replace("<standard input>", path)
        raise EditDoesNotApply(
            f"{path}: after the edit the file no longer parses ({first}); expected valid Go"
        )
