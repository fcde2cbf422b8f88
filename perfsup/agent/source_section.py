"""The source section of a prompt, within its share of the budget.

The files of the hot functions (`hot_files`, hottest first) are served
first. A hot file with a code slice (`perfsup.agent.slices`) is shown as
that slice, made smaller level by level until it fits; other hot files are
shown whole while there is room. The other files share what is left, and
when they do not fit the largest of them are cut first (to their first
lines, with a note saying so). A file that would keep too little to be
useful is left out and named as not shown.

Token counts come from `count` (the model's tokenizer where the backend
has one); a cut is sized by the file's own characters-per-token ratio.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from perfsup.agent.slices import CodeSlice

MIN_USEFUL_SOURCE_TOKENS = 64  # a file cut below this is left out instead
SECTION_OVERHEAD_TOKENS = 40  # the section title and the list of files not shown

_LANGUAGES = {
    ".py": "python", ".pyi": "python", ".go": "go", ".rs": "rust", ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".hpp": "cpp", ".js": "javascript", ".ts": "typescript",
    ".java": "java", ".rb": "ruby", ".sh": "bash", ".toml": "toml", ".json": "json",
}  # fmt: skip

Count = Callable[[str], int]


@dataclass
class Source:
    path: str
    text: str
    full_tokens: int


def render_source(path: str, text: str, note: str = "") -> str:
    language = _LANGUAGES.get(PurePosixPath(path).suffix.lower(), "")
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"### {path}{note}\n```{language}\n{body}```\n"


def slice_note(piece: CodeSlice) -> str:
    return (
        f" (a slice of {piece.lines} lines: the hot code whole, the rest outlined; "
        "edit only the code shown)"
    )


def source_section(
    sources: list[Source],
    room: int,
    count: Count,
    hot_files: Sequence[str] = (),
    slices: Mapping[str, Sequence[CodeSlice]] = {},
) -> str:
    """The source section within `room` tokens: whole files, slices, cut files, left-out files.

    `slices` gives, per hot file to slice, its slices from the largest to the
    smallest: the largest that fits is shown.
    """
    if not sources:
        return ""
    room = max(0, room - SECTION_OVERHEAD_TOKENS)
    allowed: dict[str, int] = {}
    shown_slice: dict[str, str] = {}
    by_path = {s.path: s for s in sources}
    for path in dict.fromkeys(p for p in hot_files if p in by_path):
        # hot files first, hottest first: cold files are the ones cut when room is short
        if path in slices:
            block = _fitting_slice(path, slices[path], room, count)
            if block is not None:
                shown_slice[path] = block
                room -= count(block)
            allowed[path] = 0
            continue
        share = min(by_path[path].full_tokens, room)
        allowed[path] = share if share >= MIN_USEFUL_SOURCE_TOKENS else 0
        room -= allowed[path]
    allowed |= _allocate([s for s in sources if s.path not in allowed], room)
    blocks: list[str] = []
    omitted: list[str] = []
    for source in sources:
        share = allowed[source.path]
        if source.path in shown_slice:
            blocks.append(shown_slice[source.path])
        elif share >= source.full_tokens:
            blocks.append(render_source(source.path, source.text))
        elif share >= MIN_USEFUL_SOURCE_TOKENS and (cut := _cut_source(source, share, count)):
            blocks.append(cut)
        else:
            omitted.append(source.path)
    parts = ["## Source", *blocks]
    if omitted:
        parts.append("Not shown for lack of space (do not edit them): " + ", ".join(omitted) + "\n")
    return "\n".join(parts)


def _fitting_slice(path: str, pieces: Sequence[CodeSlice], room: int, count: Count) -> str | None:
    for piece in pieces:
        block = render_source(path, piece.text, slice_note(piece))
        if count(block) <= room:
            return block
    return None


def _allocate(sources: list[Source], room: int) -> dict[str, int]:
    """Tokens per file: small files whole, the largest cut to a common level first.

    Water-filling: every file gets min(its size, level), with the level as high
    as the room allows. If that level is too low to be useful, the largest file
    is left out (share 0) and the rest share the room again.
    """
    remaining = sorted(sources, key=lambda s: s.full_tokens)
    allowed = {s.path: 0 for s in sources}
    while remaining:
        level = _level(remaining, room)
        if level >= remaining[-1].full_tokens or level >= MIN_USEFUL_SOURCE_TOKENS:
            for s in remaining:
                allowed[s.path] = min(s.full_tokens, level)
            return allowed
        remaining.pop()  # the largest file goes; its room goes to the others
    return allowed


def _level(ascending: list[Source], room: int) -> int:
    """The highest per-file cap with sum(min(size, cap)) <= room (sizes ascending)."""
    left = room
    for index, source in enumerate(ascending):
        share = left // (len(ascending) - index)
        if source.full_tokens > share:
            return share
        left -= source.full_tokens
    return ascending[-1].full_tokens


def _cut_source(source: Source, tokens: int, count: Count) -> str | None:
    """The first lines of a file that fit in `tokens`, with a note that it was cut.

    None if not even one line fits.
    """
    lines = source.text.splitlines(keepends=True)
    # the note with the largest numbers it can show bounds its own cost
    overhead = count(render_source(source.path, "", _cut_note(len(lines), len(lines))))
    # this file's own ratio: a tokenizer counts code and prose differently
    chars_per_token = max(len(source.text), 1) / max(source.full_tokens, 1)
    kept: list[str] = []
    chars = 0  # count characters, not per-line rounded tokens
    for line in lines:
        if chars + len(line) > (tokens - overhead) * chars_per_token:
            break
        kept.append(line)
        chars += len(line)
    if not kept:
        return None
    return render_source(source.path, "".join(kept), _cut_note(len(kept), len(lines)))


def _cut_note(shown: int, total: int) -> str:
    return (
        f" (truncated: only lines 1-{shown} of {total} shown; the rest of this file is not "
        "shown and cannot be edited)"
    )
