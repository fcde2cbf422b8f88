"""The edit format models answer in, and its parser.

Search/replace blocks (for larger models)::

    DESCRIPTION: <one line>
    RATIONALE: <optional text, may span lines until the first block>
    path/to/file.py
    <<<<<<< SEARCH
    exact old lines
    =======
    new lines
    >>>>>>> REPLACE

or the rewrite of one region (safest for small models)::

    DESCRIPTION: <one line>
    REGION: path/to/file.py::function_name
    ```python
    def function_name(...):
        ... complete new text ...
    ```

Tolerated because models do it: ``` fences around blocks with the path line
inside or outside the fence, `DESCRIPTION`/`RATIONALE`/`REGION` in any case
or in **bold**, 5 to 9 marker characters, a path written as `path`, **path**
or `File: path`, prose between blocks, and a block without its own path line
right after another block (it reuses that block's path). Refused with
`MalformedAnswer`, whose message is meant to be fed back to the model: no
DESCRIPTION, no block and no REGION, a block cut off before its end marker,
a path line that is not a path (paths may not contain spaces), and
placeholder code such as "rest unchanged" or a bare `...` line.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from perfsup.agent.limits import AnswerLimits, AnswerTooLarge, check_answer_size

# Every pattern below runs in time linear in the line: runs of whitespace are
# matched possessively (`\s*+`, never given back), so no two quantifiers can
# share out one run between them, and nothing lazy is followed by `\s*$`. A
# whitespace-only line of a few hundred spaces once took minutes here.
_HEADER = r"^\s*+(?:\*\*)?{word}(?:\*\*)?\s*+:(?:\*\*)?(?P<text>.*)$"
_DESCRIPTION = re.compile(_HEADER.format(word="DESCRIPTION"), re.IGNORECASE)
_RATIONALE = re.compile(_HEADER.format(word="RATIONALE"), re.IGNORECASE)
_REGION = re.compile(_HEADER.format(word="REGION"), re.IGNORECASE)
_SEARCH = re.compile(r"^\s*+<{5,9}+\s*+SEARCH\s*+$")
_DIVIDER = re.compile(r"^\s*+={5,9}+\s*+$")
_REPLACE = re.compile(r"^\s*+>{5,9}+\s*+REPLACE\s*+$")
_FENCE = re.compile(r"^\s*+```")
_PATH_DECOR = re.compile(r"^(?:#++\s*+)?(?:(?:file|path)\s*+:\s*+)?", re.IGNORECASE)

# Phrases models use instead of writing the code out. Matched case-insensitively
# anywhere in a line of new text.
_PLACEHOLDER_PHRASES = re.compile(
    r"rest\s++(?:of\s++(?:the\s++)?(?:\w++\s++)?)?(?:is\s++|remains\s++|stays\s++)?unchanged"
    r"|^\s*+(?:#|//|/\*|--)?\s*+(?:\.\.\.|…)?\s*+"
    r"(?:existing|remaining|other|previous|original|unchanged|same)\s++"
    r"(?:code|lines|implementation|logic)(?:\s++(?:here|unchanged|as\s++before))?"
    r"\s*+(?:\.\.\.|…)?\s*+(?:\*/)?\s*+$"
    r"|(?:#|//|/\*)\s*+(?:\.\.\.|…)\s*+(?:existing|rest|remaining|other|previous|unchanged)"
    r"|(?:code|implementation)\s++(?:remains|stays)\s++(?:the\s++same|unchanged)",
    re.IGNORECASE,
)
# Every placeholder above holds one of these: lines without any are not checked.
_PLACEHOLDER_WORDS = (
    *("unchanged", "existing", "remaining", "other", "previous", "original", "same"),
    *("remains", "stays", "...", "…"),
)
_PLACEHOLDER_WORD = re.compile("|".join(map(re.escape, _PLACEHOLDER_WORDS)), re.IGNORECASE)
# Words the SEARCH and REGION lines hold, found in one scan of the whole answer.
_REGION_WORD = re.compile("REGION", re.IGNORECASE)
# A line that is only dots, optionally as a comment: `...`, `# ...`, `// ...`, `/* ... */`.
_DOTS_LINE = re.compile(r"^\s*+(?:#|//|/\*|--|;)?\s*+(?:\.\.\.|…)\s*+(?:\*/)?\s*+$")


class MalformedAnswer(ValueError):
    """A model answer that does not follow the edit format.

    The message says what is wrong and what was expected, in words fit to be
    sent back to the model as the reason its answer was refused.
    """


@dataclass
class SearchReplace:
    """Replace the exact lines `search` in `path` with `replace`.

    Both texts end with a newline unless empty; an empty `search` creates a new file.
    """

    path: str
    search: str
    replace: str


@dataclass
class RegionRewrite:
    """Replace the whole of `region` in `path` with `new_text`.

    `region` is a Python function (`name`), a method (`Class.name`) or the name
    of a `perfsup:begin NAME` ... `perfsup:end NAME` marked block.
    """

    path: str
    region: str
    new_text: str


@dataclass
class ProposedEdit:
    """One parsed answer: what the change is, why, and the change itself."""

    description: str
    rationale: str
    blocks: list[SearchReplace]
    region: RegionRewrite | None

    @property
    def paths(self) -> list[str]:
        """Every file the edit touches, once each, in order of first mention."""
        paths = [block.path for block in self.blocks]
        if self.region is not None:
            paths.append(self.region.path)
        return list(dict.fromkeys(paths))


def parse_answer(text: str, limits: AnswerLimits | None = None) -> ProposedEdit:
    """Parse a model answer into a `ProposedEdit`, or raise `MalformedAnswer`.

    An answer over `limits` (by default `AnswerLimits()`) is refused before
    anything else; below them the parse takes time linear in the answer.
    """
    try:
        lines = _Lines(check_answer_size(text, limits or AnswerLimits()))
    except AnswerTooLarge as exc:
        raise MalformedAnswer(str(exc)) from None
    search_at = [i for i in lines.holding("SEARCH") if _SEARCH.match(lines[i])]
    region_at = [i for i in lines.holding(_REGION_WORD) if _REGION.match(lines[i])]
    if search_at and region_at:
        raise MalformedAnswer(
            "the answer mixes a REGION rewrite with SEARCH/REPLACE blocks; expected one format only"
        )
    if len(region_at) > 1:
        raise MalformedAnswer(
            f"the answer has {len(region_at)} REGION lines; expected exactly one region per answer"
        )
    first_block = _first_block_line(lines, search_at, region_at)
    description, rationale = _head(lines[:first_block])
    if region_at:
        region = _parse_region(lines, region_at[0])
        _refuse_placeholders(region.new_text, "", f"the REGION {region.path}::{region.region}")
        return ProposedEdit(description, rationale, [], region)
    if not search_at:
        raise MalformedAnswer(
            "the answer has no change in it; expected either search/replace blocks (a file "
            "path line, then '<<<<<<< SEARCH', the exact old lines, '=======', the new lines, "
            "'>>>>>>> REPLACE') or one 'REGION: path::name' followed by the new code in a "
            "``` fence"
        )
    blocks = _parse_blocks(lines, search_at)
    for number, block in enumerate(blocks, start=1):
        _refuse_placeholders(block.replace, block.search, f"block {number} ({block.path})")
    return ProposedEdit(description, rationale, blocks, None)


def _first_block_line(lines: list[str], search_at: list[int], region_at: list[int]) -> int:
    """Index where the change starts: the REGION line, or the first block's path line."""
    if region_at:
        return region_at[0]
    if not search_at:
        return len(lines)
    start = search_at[0]
    path_line = _previous_significant(lines, start, stop=0)
    if path_line is not None and _looks_like_path(_clean_path(lines[path_line])):
        start = path_line
    # an opening fence right before the path (or the marker) belongs to the block
    while start > 0 and (not lines[start - 1].strip() or _FENCE.match(lines[start - 1])):
        start -= 1
    return start


def _head(lines: list[str]) -> tuple[str, str]:
    """DESCRIPTION (required, one line) and RATIONALE (optional, multi-line)."""
    description: str | None = None
    rationale: list[str] | None = None
    for line in lines:
        if ":" in line:  # a cheap test first: answers may hold many lines
            match = _DESCRIPTION.match(line)
            if match and description is None:
                description = match.group("text").strip()
                continue
            match = _RATIONALE.match(line)
            if match and rationale is None:
                rationale = [match.group("text").strip()]
                continue
        if rationale is not None and not ("```" in line and _FENCE.match(line)):
            rationale.append(line)
    if description is None:
        raise MalformedAnswer(
            "the answer has no DESCRIPTION line; expected the answer to start with "
            "'DESCRIPTION: <one line saying what the change does>'"
        )
    if not description:
        raise MalformedAnswer(
            "the DESCRIPTION line is empty; expected 'DESCRIPTION: <one line saying what the "
            "change does>'"
        )
    return description, "\n".join(rationale or []).strip()


def _parse_blocks(lines: _Lines, search_at: list[int]) -> list[SearchReplace]:
    blocks: list[SearchReplace] = []
    previous_end = 0
    for number, start in enumerate(search_at, start=1):
        path = _block_path(lines, start, previous_end, number, blocks)
        divider = _find(lines, _DIVIDER, start + 1, "=====")
        end = _find(lines, _REPLACE, (divider if divider is not None else start) + 1, "REPLACE")
        next_start = search_at[number] if number < len(search_at) else len(lines)
        if divider is None or divider > next_start:
            raise MalformedAnswer(
                f"block {number} ({path}) has no '=======' line after '<<<<<<< SEARCH'; "
                "expected the exact old lines, then '=======', then the new lines, then "
                "'>>>>>>> REPLACE' (was the answer cut off?)"
            )
        if end is None or end > next_start:
            raise MalformedAnswer(
                f"block {number} ({path}) is not closed by '>>>>>>> REPLACE'; expected the new "
                "lines to end with a '>>>>>>> REPLACE' line (was the answer cut off?)"
            )
        blocks.append(
            SearchReplace(path, _join(lines[start + 1 : divider]), _join(lines[divider + 1 : end]))
        )
        previous_end = end
    return blocks


def _block_path(
    lines: list[str], start: int, previous_end: int, number: int, blocks: list[SearchReplace]
) -> str:
    """The path line right before a SEARCH marker (fences and blank lines skipped)."""
    index = _previous_significant(lines, start, stop=previous_end + 1 if blocks else 0)
    if index is not None and (_DESCRIPTION.match(lines[index]) or _RATIONALE.match(lines[index])):
        index = None  # the header runs straight into the block: the path line is missing
    if index is None:
        if blocks:  # straight after the previous block: same file
            return blocks[-1].path
        raise MalformedAnswer(
            f"block {number} has no file path line before '<<<<<<< SEARCH'; expected the "
            "path of the file to change (for example 'src/module.py') on the line right "
            "before each '<<<<<<< SEARCH'"
        )
    path = _clean_path(lines[index])
    if not _looks_like_path(path):
        raise MalformedAnswer(
            f"block {number}: the line before '<<<<<<< SEARCH' is {lines[index].strip()!r}, "
            "which is not a file path; expected the path of the file to change (for example "
            "'src/module.py', no spaces) on the line right before each '<<<<<<< SEARCH'"
        )
    return path


def _parse_region(lines: _Lines, at: int) -> RegionRewrite:
    match = _REGION.match(lines[at])
    spec = match.group("text").strip().strip("`* ") if match else ""
    path, sep, name = spec.partition("::")
    path, name = _clean_path(path), name.strip()
    if not sep or not path or not name or not _looks_like_path(path):
        raise MalformedAnswer(
            f"the REGION line {lines[at].strip()!r} does not name a region; expected "
            "'REGION: path/to/file.py::function_name' (or Class.method, or the NAME of a "
            "'perfsup:begin NAME' marker)"
        )
    opening = _find(lines, _FENCE, at + 1, "```")
    if opening is None:
        raise MalformedAnswer(
            f"REGION {path}::{name} is not followed by code in a ``` fence; expected the "
            "complete new text of the region between a ```python line and a ``` line"
        )
    closing = _find(lines, _FENCE, opening + 1, "```")
    if closing is None:
        raise MalformedAnswer(
            f"the code of REGION {path}::{name} is not closed by a ``` line; expected the "
            "complete new text followed by ``` (was the answer cut off?)"
        )
    new_text = _join(lines[opening + 1 : closing])
    if not new_text.strip():
        raise MalformedAnswer(
            f"the code of REGION {path}::{name} is empty; expected the complete new text of "
            "the region"
        )
    return RegionRewrite(path, name, new_text)


def _refuse_placeholders(new: str, old: str, where: str) -> None:
    """Refuse new text that stands for code instead of being code."""
    if not _may_hold_placeholder(new):
        return  # no line can be a placeholder: one scan of the text says so
    old_lines = {line.strip() for line in old.splitlines()}
    for line in new.splitlines():
        if not _PLACEHOLDER_WORD.search(line) or line.strip() in old_lines:
            continue  # already in the file (a Python `...` body, say): not a placeholder
        if _DOTS_LINE.match(line) or _PLACEHOLDER_PHRASES.search(line):
            raise MalformedAnswer(
                f"{where} contains the placeholder line {line.strip()!r}; expected complete "
                "code: write out every line of the new text, nothing may be left out or "
                "summarised"
            )


def _previous_significant(lines: list[str], index: int, stop: int) -> int | None:
    """Nearest line above `index` (not above `stop`) that is neither blank nor a fence."""
    for i in range(index - 1, stop - 1, -1):
        if lines[i].strip() and not _FENCE.match(lines[i]):
            return i
    return None


def _clean_path(line: str) -> str:
    path = line.strip().strip("`*").strip()
    path = _PATH_DECOR.sub("", path).strip().strip("`*").strip()
    return path.removesuffix(":").strip()


def _looks_like_path(path: str) -> bool:
    return bool(path) and not any(ch.isspace() for ch in path) and not _SEARCH.match(path)


def _may_hold_placeholder(text: str) -> bool:
    """Whether a placeholder word may occur in `text`: C-speed substring tests on the
    case-folded text (a regex with IGNORECASE takes 0.3 s on a 1 MB answer). Case
    folding and the regex's IGNORECASE differ only on a few letters (a dotted capital
    I, say) that no placeholder a model writes contains."""
    folded = text.lower() if text.isascii() else text.casefold()
    return any(word in folded for word in _PLACEHOLDER_WORDS)


class _Lines(list[str]):
    """The lines of an answer, with the lines that hold a word found by one C-speed
    scan of the whole text (each word once), so no marker search loops in Python."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__(lines)
        self._text: str | None = None
        self._holding: dict[str | re.Pattern[str], list[int]] = {}
        self._starts: list[int] | None = None

    def holding(self, word: str | re.Pattern[str]) -> list[int]:
        """Indexes of the lines in which `word` (a string or a pattern) occurs."""
        if word not in self._holding:
            if self._text is None:
                self._text = "\n".join(self)
            text = self._text
            starts = (
                (m.start() for m in word.finditer(text))
                if isinstance(word, re.Pattern)
                else _occurrences(text, word)
            )
            found: list[int] = []
            line = at = 0
            for start in starts:
                line += text.count("\n", at, start)
                at = start
                if not found or found[-1] != line:
                    found.append(line)
            self._holding[word] = found
        return self._holding[word]

    def next_match(self, pattern: re.Pattern[str], start: int, word: str) -> int | None:
        """The first line from `start` on that holds `word` and matches `pattern`."""
        if self._text is None:
            self._text = "\n".join(self)
        if self._starts is None:  # where each line starts in the text, summed in C
            self._starts = list(itertools.accumulate(map((1).__add__, map(len, self)), initial=0))
        text, starts = self._text, self._starts
        while start < len(self):
            at = text.find(word, starts[start])
            if at < 0:
                return None
            line = bisect.bisect_right(starts, at) - 1
            if pattern.match(self[line]):
                return line
            start = line + 1
        return None


def _occurrences(text: str, word: str) -> Iterator[int]:
    at = text.find(word)
    while at >= 0:
        yield at
        at = text.find(word, at + len(word))


def _find(lines: _Lines, pattern: re.Pattern[str], start: int, word: str) -> int | None:
    """The first line from `start` on that matches `pattern` (which needs `word`)."""
    return lines.next_match(pattern, start, word)


def _join(lines: list[str]) -> str:
    return "\n".join(lines) + "\n" if lines else ""
