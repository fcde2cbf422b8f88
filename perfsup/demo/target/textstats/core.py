"""Text statistics: normalise text, split it into words, compare with a vocabulary."""

import string
from collections import Counter

_DROP_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize(text: str) -> str:
    """Lower-case `text` and remove ASCII punctuation."""
    return text.lower().translate(_DROP_PUNCTUATION)


def tokenize(text: str) -> list[str]:
    """Split `text` into normalised words."""
    return normalize(text).split()


def unknown_words(words: list[str], vocabulary: list[str]) -> list[str]:
    """Words that are not in `vocabulary`, each once, in order of first appearance."""
    unknown = []
    for word in words:
        if word not in vocabulary and word not in unknown:
            unknown.append(word)
    return unknown


def top_words(words: list[str], n: int) -> list[tuple[str, int]]:
    """The `n` most frequent words with their counts; ties in alphabetical order."""
    counts = Counter(words)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ranked[:n]


def bigrams(words: list[str]) -> list[tuple[str, str]]:
    """Pairs of consecutive words."""
    return list(zip(words, words[1:]))


def summarize(text: str, vocabulary: list[str]) -> dict[str, object]:
    """Word count, unknown words and the most frequent words of `text`."""
    words = tokenize(text)
    unknown = unknown_words(words, vocabulary)
    return {
        "words": len(words),
        "unknown": unknown,
        "top": top_words(words, 5),
    }
