"""What the model calls cost, in words: one line per call and one for a node's
total. `perfsup status` and the TUI's node card print the same lines.
"""

from __future__ import annotations

from perfsup.store.calls import CallCost

__all__ = ["ERROR_CHARS", "call_line", "calls_total"]

#: How much of a call's failure a line shows (the node's reason has it in full).
ERROR_CHARS = 160


def call_line(attempt: int, cost: CallCost, error_chars: int = ERROR_CHARS) -> str:
    """`call 0: 3000+1000 of 1000 tokens, truncated, read 40 s + answer 50 s: why`."""
    limit = f" of {cost.answer_limit}" if cost.answer_limit is not None else ""
    cut = ", truncated" if cost.truncated else ""
    what = f": {_shortened(cost.error, error_chars)}" if cost.error else ""
    state = "failed" if cost.failed else f"{cost.prompt_tokens}+{cost.answer_tokens}{limit} tokens"
    return (
        f"call {attempt}: {state}{cut}, read {cost.prompt_s:.0f} s "
        f"+ answer {cost.answer_s:.0f} s{what}"
    )


def calls_total(cost: CallCost) -> str:
    """`2 calls: read 45 s + answer 30 s`: the time a node's model calls took."""
    calls = f"{cost.calls} call{'s' if cost.calls != 1 else ''}"
    return f"{calls}: read {cost.prompt_s:.0f} s + answer {cost.answer_s:.0f} s"


def _shortened(text: str, chars: int) -> str:
    """The first line of `text`, cut to `chars` characters with an ellipsis when longer."""
    first = text.splitlines()[0] if text.strip() else text
    return first if len(first) <= chars else first[: chars - 1].rstrip() + "…"
