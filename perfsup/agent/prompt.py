"""Build the chat messages for one proposal, within the model's context budget.

Order matters for speed: local servers reuse the cached prefix of the last
prompt, so what stays the same between experiments comes first (instructions
and edit format in the system message, then goal, access rules and source)
and what changes comes last (line of inquiry, failed tries, hints, the last
failure).

Budget: everything must fit in context_tokens - answer_tokens, counted with
`estimate_tokens`. The instructions, goal and access rules are never cut (a
budget too small for them is a `ValueError`). The changing part may use at
least a quarter of what is left, and more if the source leaves room; beyond
that its oldest entries go first. The source fills the rest: the files of
the hot functions (`hot_files`, hottest first) are served first, whole while
there is room, so the code the profile points at survives a tight budget;
the other files share what is left, and when they do not fit the largest of
them are cut first (to their first lines, with a note saying so). A file
that would keep too little to be useful is left out and named as not shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

from perfsup.agent.backend import ChatMessage
from perfsup.agent.tokens import CHARS_PER_TOKEN, estimate_tokens
from perfsup.config import AccessRules

EditFormat = Literal["search_replace", "region"]

MESSAGE_OVERHEAD_TOKENS = 4  # role markers and separators per chat message
MIN_USEFUL_SOURCE_TOKENS = 64  # a file cut below this is left out instead
_HISTORY_SHARE = 4  # the changing part may always use 1/4 of the room after fixed parts

_LANGUAGES = {
    ".py": "python", ".pyi": "python", ".go": "go", ".rs": "rust", ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".hpp": "cpp", ".js": "javascript", ".ts": "typescript",
    ".java": "java", ".rb": "ruby", ".sh": "bash", ".toml": "toml", ".json": "json",
}  # fmt: skip

_INSTRUCTIONS = """\
You are a performance engineer. You improve the speed of a code repository by \
proposing one small, self-contained change at a time. Each change is applied, \
built, checked by the project's tests and benchmarked against its parent; it is \
kept only if it is measurably faster.

Rules:
- Keep behaviour identical: same results, same output, same errors.
- Change only the files the access rules allow.
- Propose one idea per answer. Never repeat an idea that already failed.
- Write complete code. Never use placeholders such as "..." or \
"rest of the code unchanged".
- Answer in exactly the format below, with nothing before DESCRIPTION.
"""

_SEARCH_REPLACE_FORMAT = """\
Answer format:
DESCRIPTION: <one line: what the change does>
RATIONALE: <why it should be faster; optional, may take several lines>
<path of the file to change>
<<<<<<< SEARCH
<lines copied exactly from the file, with their indentation>
=======
<the new lines that replace them>
>>>>>>> REPLACE

- The line right before each <<<<<<< SEARCH is the file path, alone on its line.
- SEARCH copies a run of consecutive lines of the file exactly and must match \
one place only: include a few surrounding lines to make it unique. Keep blocks small.
- Use several blocks for several places; they are applied in order.
- To create a new file, leave SEARCH empty.

Example:
DESCRIPTION: compile the word pattern once instead of on every call
RATIONALE: re.findall with a string pattern looks the pattern up in re's cache
on every call; a compiled pattern skips that.
src/words.py
<<<<<<< SEARCH
def words(line):
    return re.findall(r"\\w+", line)
=======
_WORD = re.compile(r"\\w+")


def words(line):
    return _WORD.findall(line)
>>>>>>> REPLACE
"""

_REGION_FORMAT = """\
Answer format:
DESCRIPTION: <one line: what the change does>
RATIONALE: <why it should be faster; optional, may take several lines>
REGION: <path of the file>::<name>
```<language>
<the complete new text of the region>
```

- <name> is a top-level function (name), a method (Class.name), or a block \
marked by comments `perfsup:begin NAME` and `perfsup:end NAME`.
- Write the whole region: its decorators, the def line and every line of the \
body. For a marked block write only the lines between the two markers.
- One region per answer.

Example:
DESCRIPTION: sum with the built-in instead of a Python loop
RATIONALE: sum() runs the loop in C.
REGION: src/stats.py::mean
```python
def mean(values):
    return sum(values) / len(values)
```
"""


@dataclass
class _Source:
    path: str
    text: str
    full_tokens: int


def build_messages(
    *,
    goal: str,
    rules: AccessRules,
    sources: Mapping[str, str],
    inquiry: Sequence[str],
    failed_tries: Sequence[str],
    last_failure: str | None,
    hints: Sequence[str],
    edit_format: EditFormat,
    context_tokens: int,
    answer_tokens: int,
    regions: Sequence[str] = (),
    profile: str = "",
    hot_files: Sequence[str] = (),
) -> list[ChatMessage]:
    """The system and user messages for one proposal; see the module docstring.

    `sources` maps a path to the text of a visible, writable file; `inquiry`
    has one line per step from the run root to the parent ("1.2: ... ->
    kept, time_ms 12% better"); `failed_tries` what already failed from this
    parent; `regions` the `path::name` regions a region rewrite may name
    (listed in the prompt for the region format, so a small model picks a
    real one); `profile` the parent's profile section (see
    `perfsup.agent.hotspots`), shown after the source: it changes with the
    parent; `hot_files` the files of its hot functions, hottest first. Raises
    `ValueError` when the budget cannot hold the fixed parts.
    """
    budget = context_tokens - answer_tokens
    system = _INSTRUCTIONS + "\n" + _format_text(edit_format)
    head = _head(goal, rules, regions if edit_format == "region" else ())
    closing = "Propose one change now, in the answer format."
    fixed = (
        estimate_tokens(system)
        + estimate_tokens(head + "\n" + closing)
        + estimate_tokens(profile)
        + 2 * MESSAGE_OVERHEAD_TOKENS
    )
    if fixed > budget:
        raise ValueError(
            f"the context budget is too small: {context_tokens} context tokens minus "
            f"{answer_tokens} for the answer leaves {budget}, but the instructions, goal and "
            f"access rules alone need about {fixed}; raise model.context_tokens or lower "
            "model.max_answer_tokens"
        )
    room = budget - fixed
    rendered = [
        _Source(path, text, estimate_tokens(_render_source(path, text)))
        for path, text in sources.items()
    ]
    source_need = sum(s.full_tokens for s in rendered)
    history_room = max(room // _HISTORY_SHARE, room - source_need)
    changing = _changing(inquiry, failed_tries, last_failure, hints, history_room)
    source_room = room - estimate_tokens(changing) - 8  # 8: the blank lines joining parts
    for _ in range(8):  # estimates of joined text can differ by a few tokens: shrink till it fits
        user = "\n".join(
            part
            for part in (
                head,
                _sources(rendered, source_room, hot_files),
                profile,
                changing,
                closing,
            )
            if part
        )
        messages = [ChatMessage("system", system), ChatMessage("user", user)]
        used = sum(estimate_tokens(m.content) + MESSAGE_OVERHEAD_TOKENS for m in messages)
        if used <= budget:
            return messages
        source_room -= used - budget
    raise ValueError(
        f"cannot fit the prompt in {budget} tokens even without source; raise "
        "model.context_tokens or lower model.max_answer_tokens"
    )


def _format_text(edit_format: EditFormat) -> str:
    return _REGION_FORMAT if edit_format == "region" else _SEARCH_REPLACE_FORMAT


def _head(goal: str, rules: AccessRules, regions: Sequence[str] = ()) -> str:
    lines = ["## Goal", goal.strip(), "", "## Access rules"]
    lines.append("You may change only: " + ", ".join(rules.writable))
    if rules.protected:
        lines.append("Never change: " + ", ".join(rules.protected))
    lines.append("Any other file is off limits.")
    if regions:
        lines += ["", "## Regions you may rewrite", *(f"- {r}" for r in regions)]
    return "\n".join(lines) + "\n"


def _render_source(path: str, text: str, note: str = "") -> str:
    language = _LANGUAGES.get(PurePosixPath(path).suffix.lower(), "")
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"### {path}{note}\n```{language}\n{body}```\n"


def _sources(sources: list[_Source], room: int, hot_files: Sequence[str] = ()) -> str:
    """The source section within `room` tokens: whole files, cut files, left-out files."""
    if not sources:
        return ""
    room = max(0, room - 40)  # 40: section title and the omitted-list
    allowed: dict[str, int] = {}
    by_path = {s.path: s for s in sources}
    for path in dict.fromkeys(p for p in hot_files if p in by_path):
        # hot files first, hottest first: cold files are the ones cut when room is short
        share = min(by_path[path].full_tokens, room)
        allowed[path] = share if share >= MIN_USEFUL_SOURCE_TOKENS else 0
        room -= allowed[path]
    allowed |= _allocate([s for s in sources if s.path not in allowed], room)
    blocks: list[str] = []
    omitted: list[str] = []
    for source in sources:
        share = allowed[source.path]
        if share >= source.full_tokens:
            blocks.append(_render_source(source.path, source.text))
        elif share >= MIN_USEFUL_SOURCE_TOKENS and (cut := _cut_source(source, share)):
            blocks.append(cut)
        else:
            omitted.append(source.path)
    parts = ["## Source", *blocks]
    if omitted:
        parts.append("Not shown for lack of space (do not edit them): " + ", ".join(omitted) + "\n")
    return "\n".join(parts)


def _allocate(sources: list[_Source], room: int) -> dict[str, int]:
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


def _level(ascending: list[_Source], room: int) -> int:
    """The highest per-file cap with sum(min(size, cap)) <= room (sizes ascending)."""
    left = room
    for index, source in enumerate(ascending):
        share = left // (len(ascending) - index)
        if source.full_tokens > share:
            return share
        left -= source.full_tokens
    return ascending[-1].full_tokens


def _cut_source(source: _Source, tokens: int) -> str | None:
    """The first lines of a file that fit in `tokens`, with a note that it was cut.

    None if not even one line fits.
    """
    lines = source.text.splitlines(keepends=True)
    # the note with the largest numbers it can show bounds its own cost
    overhead = estimate_tokens(_render_source(source.path, "", _cut_note(len(lines), len(lines))))
    kept: list[str] = []
    chars = 0  # the estimate is by characters: count them, not per-line rounded tokens
    for line in lines:
        if chars + len(line) > (tokens - overhead) * CHARS_PER_TOKEN:
            break
        kept.append(line)
        chars += len(line)
    if not kept:
        return None
    return _render_source(source.path, "".join(kept), _cut_note(len(kept), len(lines)))


def _cut_note(shown: int, total: int) -> str:
    return (
        f" (truncated: only lines 1-{shown} of {total} shown; the rest of this file is not "
        "shown and cannot be edited)"
    )


def _changing(
    inquiry: Sequence[str],
    failed_tries: Sequence[str],
    last_failure: str | None,
    hints: Sequence[str],
    room: int,
) -> str:
    """History, failures and hints, cut to `room` tokens: oldest entries go first."""
    inquiry, failed = list(inquiry), list(failed_tries)
    dropped_inquiry = dropped_failed = 0
    failure = (last_failure or "").strip()
    while True:
        text = _render_changing(inquiry, dropped_inquiry, failed, dropped_failed, failure, hints)
        if estimate_tokens(text) <= room:
            return text
        if inquiry:
            inquiry.pop(0)
            dropped_inquiry += 1
        elif failed:
            failed.pop(0)
            dropped_failed += 1
        elif len(failure) > 200:
            failure = failure[: len(failure) // 2].rstrip() + "\n[... rest of the failure cut]"
        else:
            return text  # only hints and a short failure left: they stay


def _render_changing(
    inquiry: list[str],
    dropped_inquiry: int,
    failed: list[str],
    dropped_failed: int,
    failure: str,
    hints: Sequence[str],
) -> str:
    parts = ["## Line of inquiry (from the run root to the code you are changing, oldest first)"]
    if dropped_inquiry:
        parts.append(f"({dropped_inquiry} earlier steps not shown)")
    if inquiry:
        parts.extend(f"- {line}" for line in inquiry)
    elif not dropped_inquiry:
        parts.append("None yet: you are changing the baseline.")
    if failed or dropped_failed:
        parts += ["", "## Already tried on this code and failed (do not repeat these)"]
        if dropped_failed:
            parts.append(f"({dropped_failed} older tries not shown)")
        parts.extend(f"- {line}" for line in failed)
    if hints:
        parts += ["", "## Hints from the person running this"]
        parts.extend(f"- {hint}" for hint in hints)
    if failure:
        parts += ["", "## Your previous answer failed", failure]
    return "\n".join(parts) + "\n"
