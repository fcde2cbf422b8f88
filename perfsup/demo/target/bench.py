"""Benchmark for textstats: time `summarize` on fixed, seeded input.

Prints `METRIC time_ms=<float>`: the fastest of REPEATS timed calls, in
milliseconds. The input is the same on every run, so the work done is too.
"""

import random
import time

from textstats import summarize

SEED = 20240601
POOL_SIZE = 2000
VOCABULARY_SIZE = 1000
TEXT_WORDS = 3000
REPEATS = 3


def make_input() -> tuple[str, list[str]]:
    """A seeded text of TEXT_WORDS words and a vocabulary list that knows half the pool."""
    rng = random.Random(SEED)
    letters = "abcdefghijklmnopqrstuvwxyz"
    pool = sorted({"".join(rng.choices(letters, k=rng.randint(3, 9))) for _ in range(POOL_SIZE * 2)})
    pool = rng.sample(pool, POOL_SIZE)
    vocabulary = pool[:VOCABULARY_SIZE]
    rng.shuffle(vocabulary)
    words = []
    for _ in range(TEXT_WORDS):
        word = rng.choice(pool)
        roll = rng.random()
        if roll < 0.1:
            word = word.capitalize()
        elif roll < 0.2:
            word += rng.choice(",.;!?")
        words.append(word)
    return " ".join(words), vocabulary


def main() -> None:
    text, vocabulary = make_input()
    best = float("inf")
    result = None
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = summarize(text, vocabulary)
        best = min(best, time.perf_counter() - start)
    assert result is not None
    print(f"words={result['words']} unknown={len(result['unknown'])}")
    print(f"METRIC time_ms={best * 1000:.3f}")


if __name__ == "__main__":
    main()
