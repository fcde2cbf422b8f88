"""Keep a grammar retry from copying the code back unchanged.

A GBNF grammar cannot say "any text but this one", and a small model asked
again after a bad answer often copies a function it was shown, word for
word: the edit is then refused as changing nothing. So a grammar retry in
the llama.cpp child also gets a `ForbidUnchanged` rule, applied by
`UnchangedGuard` as a logits processor: whenever the answer so far ends
with an unchanged copy, exactly where the grammar would let it close, the
tokens that would close it there (and end-of-stream) are masked, and the
model has to write something else. An unchanged copy is:

- in the region format, one of `regions`: a REGION line, its opening fence
  and the region's original text, exactly as the grammar lets it be copied;
  it closes with "```";
- in the search/replace format, a block whose replacement so far repeats its
  own SEARCH text (of fewer than `search_replace_lines` lines); it closes
  with ">>>>>>> REPLACE".

Only closes are masked, never copying: the model may keep most of the code
and change its last line. The rule is on the text, not on token ids, so it
holds however the model splits the copy into tokens. A rule is only given
where the grammar leaves room for one more line after the copy (the caller
checks): masking the grammar's only way on would leave no token to sample.
This module is pure (bytes in, token ids out) so it runs in the child
without anything else of perfsup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

REGION_CLOSE = b"`"  # the first byte of the fence that closes a region
SEARCH_CLOSE = b">"  # the first byte of ">>>>>>> REPLACE"
_SEARCH = b"<<<<<<< SEARCH\n"
_DIVIDER = b"=======\n"


@dataclass(frozen=True)
class ForbidUnchanged:
    """What a grammar-constrained answer may not close unchanged (see the module docstring)."""

    regions: tuple[str, ...] = ()
    search_replace_lines: int = 0  # 0: no rule for search/replace blocks

    def to_json(self) -> dict[str, Any]:
        """The request field for the llama.cpp child."""
        return {"regions": list(self.regions), "search_replace_lines": self.search_replace_lines}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ForbidUnchanged:
        """The rule from its request field."""
        return cls(
            regions=tuple(str(r) for r in data.get("regions") or ()),
            search_replace_lines=int(data.get("search_replace_lines") or 0),
        )


class UnchangedGuard:
    """Which tokens would close an unchanged copy, given the model's token pieces.

    `pieces[i]` is the text (bytes) of token i; `eos` is the end-of-stream token.
    """

    def __init__(self, pieces: Sequence[bytes], eos: int, rule: ForbidUnchanged) -> None:
        self.pieces = pieces
        self.eos = eos
        self.rule = rule
        self._regions = [r.encode("utf-8") for r in rule.regions]
        # only tokens holding a closing byte can close anything: index them once
        self._closers = {
            close: [i for i, piece in enumerate(pieces) if close in piece]
            for close in (REGION_CLOSE, SEARCH_CLOSE)
        }
        self._longest = max((len(p) for p in pieces), default=1)

    def banned(self, answer: bytes) -> list[int]:
        """The tokens that may not follow `answer` (the text generated so far)."""
        banned: list[int] = []
        for copy, close in self._copies(answer):
            target = copy + close
            # the token must complete `target`: the answer ends with its first part
            # and the token's text starts with the rest
            for rest_len in range(1, min(len(target), self._longest) + 1):
                if answer.endswith(target[: len(target) - rest_len]):
                    rest = target[len(target) - rest_len :]
                    banned += [i for i in self._closers[close] if self.pieces[i].startswith(rest)]
            if answer.endswith(copy):
                banned.append(self.eos)
        return banned

    def _copies(self, answer: bytes) -> list[tuple[bytes, bytes]]:
        """The unchanged copies that could be completed after `answer`, with their close."""
        copies = [(region, REGION_CLOSE) for region in self._regions]
        if self.rule.search_replace_lines:
            start = answer.rfind(_SEARCH)
            divider = answer.find(_DIVIDER, start + len(_SEARCH)) if start >= 0 else -1
            if divider >= 0:
                search = answer[start + len(_SEARCH) : divider]
                if search.count(b"\n") < self.rule.search_replace_lines:
                    copies.append((_SEARCH + search + _DIVIDER + search, SEARCH_CLOSE))
        return copies
