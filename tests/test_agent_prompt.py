"""Prompt building: stable parts first, changing parts last, within the token budget."""

from __future__ import annotations

from typing import Any

import pytest

from perfsup.agent.backend import ChatMessage
from perfsup.agent.edits import parse_answer
from perfsup.agent.prompt import MESSAGE_OVERHEAD_TOKENS, build_messages
from perfsup.agent.tokens import estimate_tokens
from perfsup.config import AccessRules

RULES = AccessRules(writable=["src/"], protected=["bench.sh", "perfsup.toml"])
SMALL = "def f(x):\n    return x + 1\n"
BIG = "".join(f"def g{i}(x):\n    return x * {i}\n\n\n" for i in range(800))  # ~30k chars


def args(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "goal": "make parse() faster",
        "rules": RULES,
        "sources": {"src/small.py": SMALL},
        "inquiry": ["1.2: cache regex -> kept, time_ms 12% better"],
        "failed_tries": ["1.2.1: use numpy -> discarded, time_ms 3% worse"],
        "last_failure": "block 1 did not match src/small.py",
        "hints": ["try avoiding the copy in f"],
        "edit_format": "search_replace",
        "context_tokens": 8192,
        "answer_tokens": 1024,
    }
    return {**base, **overrides}


def used(messages: list[ChatMessage]) -> int:
    return sum(estimate_tokens(m.content) + MESSAGE_OVERHEAD_TOKENS for m in messages)


def test_layout_stable_first_changing_last() -> None:
    system, user = build_messages(**args())
    assert (system.role, user.role) == ("system", "user")
    assert "DESCRIPTION:" in system.content and "<<<<<<< SEARCH" in system.content
    order = [
        "make parse() faster",
        "You may change only: src/",
        "Never change: bench.sh, perfsup.toml",
        "### src/small.py\n```python\ndef f(x):",
        "1.2: cache regex -> kept",
        "1.2.1: use numpy -> discarded",
        "try avoiding the copy in f",
        "block 1 did not match src/small.py",
        "Propose one change now",
    ]
    positions = [user.content.index(part) for part in order]
    assert positions == sorted(positions)


def test_the_format_examples_parse() -> None:
    for fmt in ("search_replace", "region"):
        system = build_messages(**args(edit_format=fmt))[0].content
        example = system[system.index("Example:\n") + len("Example:\n") :]
        edit = parse_answer(example)
        assert edit.description
        assert (edit.region is not None) == (fmt == "region")


def test_prefix_is_stable_across_experiments() -> None:
    one = build_messages(**args())
    two = build_messages(
        **args(inquiry=["1.3: other"], failed_tries=[], last_failure=None, hints=[])
    )
    assert one[0] == two[0]
    source_end = one[1].content.index("## Line of inquiry")
    assert one[1].content[:source_end] == two[1].content[:source_end]
    assert "## Your previous answer failed" not in two[1].content
    assert "Already tried" not in two[1].content


def test_first_change_from_baseline() -> None:
    user = build_messages(**args(inquiry=[], failed_tries=[], last_failure=None))[1]
    assert "None yet: you are changing the baseline." in user.content


def test_everything_fits_untouched_when_there_is_room() -> None:
    messages = build_messages(
        **args(sources={"src/small.py": SMALL, "src/big.py": BIG}, context_tokens=32768)
    )
    assert BIG in messages[1].content and "truncated" not in messages[1].content
    assert used(messages) <= 32768 - 1024


def test_largest_source_is_cut_first_and_says_so() -> None:
    messages = build_messages(
        **args(sources={"src/big.py": BIG, "src/small.py": SMALL}, context_tokens=4096)
    )
    user = messages[1].content
    assert used(messages) <= 4096 - 1024
    assert SMALL in user  # the small file is whole
    header = next(line for line in user.splitlines() if line.startswith("### src/big.py"))
    assert "(truncated: only lines 1-" in header and "of 3200 shown" in header
    assert "def g0(x):" in user and "def g799" not in user
    # the instructions are never cut
    assert messages[0].content == build_messages(**args())[0].content


def test_sources_that_cannot_fit_usefully_are_named_as_not_shown() -> None:
    messages = build_messages(
        **args(
            sources={"src/big.py": BIG, "src/big2.py": BIG, "src/small.py": SMALL},
            context_tokens=1700,
        )
    )
    user = messages[1].content
    assert used(messages) <= 1700 - 1024
    assert SMALL in user
    assert "Not shown for lack of space (do not edit them): src/big.py, src/big2.py" in user


def test_long_history_keeps_the_newest_entries() -> None:
    inquiry = [f"1.{i}: idea number {i} -> kept, time_ms 1% better" for i in range(400)]
    messages = build_messages(
        **args(inquiry=inquiry, sources={"src/big.py": BIG}, context_tokens=6000)
    )
    user = messages[1].content
    assert used(messages) <= 6000 - 1024
    assert "1.399: idea number 399" in user and "1.0: idea number 0 " not in user
    assert "earlier steps not shown)" in user
    assert "### src/big.py" in user  # the source keeps most of the room


def test_budget_too_small_for_the_instructions() -> None:
    with pytest.raises(ValueError, match="context budget is too small"):
        build_messages(**args(context_tokens=1100, answer_tokens=1024))


def test_the_region_format_lists_the_regions_a_model_may_name() -> None:
    from perfsup.agent.grammar import region_names
    from perfsup.agent.prompt import build_messages as build
    from perfsup.config import AccessRules as Rules

    text = "def a():\n    return 1\n\n\nclass K:\n    def m(self):\n        return 2\n"
    regions = [f"src/x.py::{n}" for n in region_names("src/x.py", text)]
    assert regions == ["src/x.py::a", "src/x.py::K.m"]
    common = dict(
        goal="g", rules=Rules(writable=["src"]), sources={"src/x.py": text}, inquiry=[],
        failed_tries=[], last_failure=None, hints=[], context_tokens=4096, answer_tokens=512,
        regions=regions,
    )  # fmt: skip
    region_prompt = build(edit_format="region", **common)[1].content  # type: ignore[arg-type]
    assert "## Regions you may rewrite\n- src/x.py::a\n- src/x.py::K.m" in region_prompt
    blocks_prompt = build(edit_format="search_replace", **common)[1].content  # type: ignore[arg-type]
    assert "Regions you may rewrite" not in blocks_prompt


def test_a_short_prompt_cuts_cold_files_before_the_hot_one() -> None:
    hot = "".join(f"def hot{i}(x):\n    return x * {i}\n\n\n" for i in range(150))
    cold = "".join(f"def cold{i}(x):\n    return x - {i}\n\n\n" for i in range(100))
    sources = {"src/cold.py": cold, "src/hot.py": hot}  # the hot file is the larger one
    fit = {"sources": sources, "context_tokens": 3400}
    # without a profile the largest file is cut first
    plain = build_messages(**args(**fit))[1].content
    assert cold in plain and hot not in plain
    # with one, the hot file stays whole and the cold one is cut
    ranked = build_messages(**args(**fit, hot_files=["src/hot.py"]))
    user = ranked[1].content
    assert used(ranked) <= 3400 - 1024
    assert hot in user and cold not in user
    assert "### src/cold.py (truncated: only lines 1-" in user
