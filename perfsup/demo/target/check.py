"""Correctness check for textstats: exit status 0 when every result is right.

Run as `python check.py`; a wrong result prints which check failed and exits 1.
"""

import sys
import unittest

from textstats import bigrams, normalize, summarize, tokenize, top_words, unknown_words


class TextstatsTest(unittest.TestCase):
    """Small, exact cases for every public function."""

    def test_normalize(self) -> None:
        self.assertEqual(normalize("Hello, World!"), "hello world")
        self.assertEqual(normalize("It's DONE."), "its done")
        self.assertEqual(normalize(""), "")

    def test_tokenize(self) -> None:
        self.assertEqual(tokenize("  The cat; the HAT.\nA bat! "), ["the", "cat", "the", "hat", "a", "bat"])
        self.assertEqual(tokenize(""), [])

    def test_unknown_words(self) -> None:
        words = ["b", "x", "a", "y", "x", "c", "y", "z"]
        self.assertEqual(unknown_words(words, ["a", "b", "c"]), ["x", "y", "z"])
        self.assertEqual(unknown_words(words, []), ["b", "x", "a", "y", "c", "z"])
        self.assertEqual(unknown_words([], ["a"]), [])

    def test_top_words(self) -> None:
        words = ["b", "a", "c", "a", "b", "d", "a"]
        self.assertEqual(top_words(words, 2), [("a", 3), ("b", 2)])
        self.assertEqual(top_words(words, 10), [("a", 3), ("b", 2), ("c", 1), ("d", 1)])
        self.assertEqual(top_words([], 3), [])

    def test_bigrams(self) -> None:
        self.assertEqual(bigrams(["a", "b", "c"]), [("a", "b"), ("b", "c")])
        self.assertEqual(bigrams(["a"]), [])

    def test_summarize(self) -> None:
        result = summarize("The cat saw the Dog. The dog ran!", ["the", "cat", "dog"])
        self.assertEqual(result["words"], 8)
        self.assertEqual(result["unknown"], ["saw", "ran"])
        self.assertEqual(result["top"], [("the", 3), ("dog", 2), ("cat", 1), ("ran", 1), ("saw", 1)])

    def test_summarize_larger(self) -> None:
        vocabulary = [f"w{i}" for i in range(0, 400, 2)]
        text = " ".join(f"W{(i * 7) % 400}," for i in range(2000))
        result = summarize(text, vocabulary)
        self.assertEqual(result["words"], 2000)
        expected = [f"w{(i * 7) % 400}" for i in range(400) if (i * 7) % 2]
        # assertTrue, not assertEqual: a diff of long lists takes seconds to print.
        self.assertEqual(len(result["unknown"]), len(expected))
        self.assertTrue(result["unknown"] == expected, "unknown words differ")
        self.assertEqual(len(result["top"]), 5)


if __name__ == "__main__":
    outcome = unittest.main(exit=False, verbosity=1).result
    if not outcome.wasSuccessful():
        print("check.py: FAILED, textstats gives wrong results", file=sys.stderr)
        sys.exit(1)
    print("check.py: all checks passed")
