"""Token counts: one shared estimate, a ratio learned from a server, a cache.

Budgets are exact when the backend counts with the model's own tokenizer
(`TokenCounting`, e.g. the llama.cpp child). A server that only reports how
many tokens a prompt had (Ollama's `prompt_eval_count`) teaches a
characters-per-token ratio over its first calls (`LearnedRatio`), counted
with a safety margin. Everything else falls back to `estimate_tokens`.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable

CHARS_PER_TOKEN = 4  # a common rule of thumb for English text and source code
# Before a server has taught its ratio: code often tokenizes at ~3 chars per token
# (Gemma on a real module: 3.2), so assume fewer characters per token than the rule.
CAUTIOUS_CHARS_PER_TOKEN = 3.0
LEARNED_MARGIN = 0.10  # a learned ratio still varies from prompt to prompt
LEARNING_CALLS = 3  # the first calls teach the ratio; later ones may hit a prompt cache


def estimate_tokens(text: str) -> int:
    """About len(text)/4 tokens, rounded up; 0 for empty text.

    Real tokenizers differ by maybe ±30% on code; callers that know the real
    count (a `TokenCounting` backend) should prefer it.
    """
    return math.ceil(len(text) / CHARS_PER_TOKEN)


class LearnedRatio:
    """Characters per token learned from a server's reported prompt sizes.

    The smallest ratio seen (the most tokens per character) wins, since an
    undercount overflows the context and an overcount only wastes a little
    room; the count adds `LEARNED_MARGIN` on top.
    """

    def __init__(self) -> None:
        self.samples: list[float] = []

    def learn(self, chars: int, tokens: int) -> None:
        """One call's prompt: `chars` characters were `tokens` tokens (first calls only)."""
        if len(self.samples) < LEARNING_CALLS and tokens > 0 and chars > 0:
            self.samples.append(chars / tokens)

    @property
    def chars_per_token(self) -> float:
        return min(self.samples) if self.samples else CAUTIOUS_CHARS_PER_TOKEN

    def count(self, text: str) -> int:
        if not text:
            return 0
        # rounded first: 300 / 3.0 * 1.1 is 110.00000000000001 in floating point
        return math.ceil(round(len(text) / self.chars_per_token * (1 + LEARNED_MARGIN), 6))


class CachedCounter:
    """A token counter that remembers the counts of texts it saw (source files recur)."""

    def __init__(self, count: Callable[[str], int], size: int = 256) -> None:
        self._count = count
        self._seen: OrderedDict[str, int] = OrderedDict()
        self._size = size

    def __call__(self, text: str) -> int:
        if not text:
            return 0
        if text in self._seen:
            self._seen.move_to_end(text)
            return self._seen[text]
        tokens = self._count(text)
        self._seen[text] = tokens
        if len(self._seen) > self._size:
            self._seen.popitem(last=False)
        return tokens
