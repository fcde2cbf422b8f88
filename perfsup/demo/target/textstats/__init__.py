"""textstats: small text statistics, the bundled perfsup demo target."""

from textstats.core import (
    bigrams,
    normalize,
    summarize,
    tokenize,
    top_words,
    unknown_words,
)

__all__ = ["bigrams", "normalize", "summarize", "tokenize", "top_words", "unknown_words"]
