"""One shared token estimate, for budgets and for backends that report no usage."""

from __future__ import annotations

import math

CHARS_PER_TOKEN = 4  # a common rule of thumb for English text and source code


def estimate_tokens(text: str) -> int:
    """About len(text)/4 tokens, rounded up; 0 for empty text.

    Real tokenizers differ by maybe ±30% on code; callers that know the real
    count (Ollama reports it) should prefer it and compare.
    """
    return math.ceil(len(text) / CHARS_PER_TOKEN)
