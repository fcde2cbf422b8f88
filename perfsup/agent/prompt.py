"""Build the chat messages for one proposal, within the model's context budget.

Order matters for speed: local servers reuse the cached prefix of the last
prompt, so what stays the same between experiments comes first (instructions
and edit format in the system message, then goal, access rules and source)
and what changes comes last (line of inquiry, failed tries, hints, the last
failure).

Budget: everything must fit in context_tokens - answer_tokens - reserve_tokens
(what a retry adds to the conversation), counted with the model's tokenizer
where the backend has one, else `estimate_tokens`. The instructions, goal
and access rules are never cut (a budget too small for them is a
`ValueError`). The changing part may use at
least a quarter of what is left, and more if the source leaves room; beyond
that its oldest entries go first. The source fills the rest: the files of
the hot functions (`hot_files`, hottest first) are served first, as code
slices of their hot functions when given (`perfsup.agent.slices`), else
whole while there is room, so the code the profile points at survives a
tight budget; see `perfsup.agent.source_section` for the rest. A prompt
whose hottest slice does not fit is not sent: `PromptDoesNotFit` names the
context it would need.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from perfsup.agent.backend import ChatMessage
from perfsup.agent.slices import CodeSlice
from perfsup.agent.source_section import Source, render_source, source_section
from perfsup.agent.tokens import estimate_tokens
from perfsup.config import AccessRules

EditFormat = Literal["search_replace", "region"]

MESSAGE_OVERHEAD_TOKENS = 4  # role markers and separators per chat message
_HISTORY_SHARE = 4  # the changing part may always use 1/4 of the room after fixed parts

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


class PromptDoesNotFit(ValueError):
    """Even the smallest useful prompt does not fit; `needed` is the context it would need."""

    def __init__(self, message: str, needed: int) -> None:
        super().__init__(message)
        self.needed = needed


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
    slices: Mapping[str, Sequence[CodeSlice]] = {},
    count: Callable[[str], int] = estimate_tokens,
    reserve_tokens: int = 0,
) -> list[ChatMessage]:
    """The system and user messages for one proposal; see the module docstring.

    `sources` maps a path to the text of a visible, writable file; `inquiry`
    has one line per step from the run root to the parent ("1.2: ... ->
    kept, time_ms 12% better"); `failed_tries` what already failed from this
    parent; `regions` the `path::name` regions a region rewrite may name
    (listed in the prompt for the region format, so a small model picks a
    real one); `profile` the parent's profile section (see
    `perfsup.agent.hotspots`), shown after the source: it changes with the
    parent; `hot_files` the files of its hot functions, hottest first;
    `slices` per hot file its code slices, largest first (see
    `perfsup.agent.source_section`); `count` the token counter (the model's
    own where known); `reserve_tokens` room kept free besides the answer
    (what a retry adds). Raises `PromptDoesNotFit` (a `ValueError`) when the
    budget cannot hold the fixed parts.
    """
    budget = context_tokens - answer_tokens - reserve_tokens
    system = _INSTRUCTIONS + "\n" + _format_text(edit_format)
    head = _head(goal, rules, regions if edit_format == "region" else ())
    closing = "Propose one change now, in the answer format."
    fixed = (
        count(system) + count(head + "\n" + closing) + count(profile) + 2 * MESSAGE_OVERHEAD_TOKENS
    )
    if fixed > budget:
        needed = context_tokens + fixed - budget
        raise PromptDoesNotFit(
            f"the context budget is too small: {context_tokens} context tokens minus "
            f"{answer_tokens + reserve_tokens} for the answer leaves {budget}, but the "
            f"instructions, goal and access rules alone need about {fixed} (a context of "
            f"about {needed} tokens); raise model.context_tokens or lower "
            "model.max_answer_tokens",
            needed,
        )
    room = budget - fixed
    rendered = [
        Source(path, text, count(render_source(path, text))) for path, text in sources.items()
    ]
    source_need = sum(s.full_tokens for s in rendered)
    history_room = max(room // _HISTORY_SHARE, room - source_need)
    changing = _changing(inquiry, failed_tries, last_failure, hints, history_room, count)
    source_room = room - count(changing) - 8  # 8: the blank lines joining parts
    used = fixed
    for _ in range(8):  # counts of joined text can differ by a few tokens: shrink till it fits
        section = source_section(rendered, source_room, count, hot_files, slices)
        user = "\n".join(part for part in (head, section, profile, changing, closing) if part)
        messages = [ChatMessage("system", system), ChatMessage("user", user)]
        used = sum(count(m.content) + MESSAGE_OVERHEAD_TOKENS for m in messages)
        if used <= budget and _holds_hot_code(section, hot_files, slices, source_room):
            return messages
        if used <= budget:  # the hot code is not shown: a prompt without it is not useful
            break
        source_room -= used - budget
    smallest = min((count(render_source(p, s[-1].text)) for p, s in slices.items() if s), default=0)
    needed = context_tokens + max(used - budget, 0) + smallest
    raise PromptDoesNotFit(
        f"cannot fit a useful prompt in {budget} tokens ({context_tokens} context tokens "
        f"minus {answer_tokens + reserve_tokens} for the answer); it needs a context of about "
        f"{needed} tokens: raise model.context_tokens or lower model.max_answer_tokens",
        needed,
    )


def _holds_hot_code(
    section: str,
    hot_files: Sequence[str],
    slices: Mapping[str, Sequence[CodeSlice]],
    room: int,
) -> bool:
    """Whether the hottest sliced file made it into the section (True without slices)."""
    hottest = next((p for p in hot_files if slices.get(p)), None)
    return hottest is None or f"### {hottest}" in section


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


def _changing(
    inquiry: Sequence[str],
    failed_tries: Sequence[str],
    last_failure: str | None,
    hints: Sequence[str],
    room: int,
    count: Callable[[str], int] = estimate_tokens,
) -> str:
    """History, failures and hints, cut to `room` tokens: oldest entries go first."""
    inquiry, failed = list(inquiry), list(failed_tries)
    dropped_inquiry = dropped_failed = 0
    failure = (last_failure or "").strip()
    while True:
        text = _render_changing(inquiry, dropped_inquiry, failed, dropped_failed, failure, hints)
        if count(text) <= room:
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
