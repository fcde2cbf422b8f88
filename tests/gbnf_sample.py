"""Draw random strings from a GBNF grammar, to test what a grammar allows.

Reads the GBNF that perfsup writes (one rule per line; literals, character
classes, rule references, groups, alternatives, `?`, `*`, `+`, `{m,n}`) and
samples from it with a seeded `random.Random`: every string drawn is one the
grammar accepts, so a property that holds for many draws holds for what a
constrained model can write (within the shapes drawn).
"""

from __future__ import annotations

import json
import random
import re
import string
from dataclasses import dataclass

_ALPHABET = string.ascii_letters + string.digits + " _.,:;!?-()[]{}'\"`#=+*/<>\n"


@dataclass
class _Lit:
    text: str


@dataclass
class _Class:
    negated: bool
    chars: set[str]


@dataclass
class _Ref:
    name: str


@dataclass
class _Rep:
    item: object
    low: int
    high: int | None


@dataclass
class _Alt:
    options: list[list[object]]


class Grammar:
    """A parsed GBNF grammar; `sample(rng)` draws one string from `root`."""

    def __init__(self, text: str) -> None:
        self.rules: dict[str, _Alt] = {}
        for line in text.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            name, _, body = line.partition("::=")
            self._src, self._pos = body, 0
            self.rules[name.strip()] = self._alternatives()

    # ------------------------------------------------------------- parsing
    def _skip(self) -> None:
        while self._pos < len(self._src) and self._src[self._pos] == " ":
            self._pos += 1

    def _alternatives(self) -> _Alt:
        options = [self._sequence()]
        while self._pos < len(self._src) and self._src[self._pos] == "|":
            self._pos += 1
            options.append(self._sequence())
        return _Alt(options)

    def _sequence(self) -> list[object]:
        items: list[object] = []
        while True:
            self._skip()
            if self._pos >= len(self._src) or self._src[self._pos] in "|)":
                return items
            items.append(self._postfix(self._atom()))

    def _atom(self) -> object:
        src, pos = self._src, self._pos
        if src[pos] == '"':
            match = re.compile(r'"(?:[^"\\]|\\.)*"').match(src, pos)
            assert match, src[pos:]
            self._pos = match.end()
            return _Lit(json.loads(match.group(0)))
        if src[pos] == "[":
            end = pos + 1
            while src[end] != "]" or src[end - 1] == "\\":
                end += 1
            self._pos = end + 1
            return _parse_class(src[pos + 1 : end])
        if src[pos] == "(":
            self._pos += 1
            alt = self._alternatives()
            assert self._src[self._pos] == ")"
            self._pos += 1
            return alt
        match = re.compile(r"[a-zA-Z0-9-]+").match(src, pos)
        assert match, src[pos:]
        self._pos = match.end()
        return _Ref(match.group(0))

    def _postfix(self, item: object) -> object:
        src = self._src
        if self._pos < len(src) and src[self._pos] in "?*+":
            kind = src[self._pos]
            self._pos += 1
            return _Rep(item, 1 if kind == "+" else 0, 1 if kind == "?" else None)
        if self._pos < len(src) and src[self._pos] == "{":
            end = src.index("}", self._pos)
            low, _, high = src[self._pos + 1 : end].partition(",")
            self._pos = end + 1
            return _Rep(item, int(low), int(high) if high else int(low) if not _ else None)
        return item

    # ------------------------------------------------------------ sampling
    def sample(self, rng: random.Random, start: str = "root") -> str:
        out: list[str] = []
        self._draw(self.rules[start], rng, out, 0)
        return "".join(out)

    def _draw(self, item: object, rng: random.Random, out: list[str], depth: int) -> None:
        assert depth < 200, "the grammar recurses without bound"
        if isinstance(item, _Lit):
            out.append(item.text)
        elif isinstance(item, _Class):
            choices = [c for c in _ALPHABET if (c in item.chars) != item.negated]
            out.append(rng.choice(choices))
        elif isinstance(item, _Ref):
            self._draw(self.rules[item.name], rng, out, depth + 1)
        elif isinstance(item, _Rep):
            # few repeats, more now and then: short draws that still reach every bound
            count = item.low
            high = item.low + 3 if item.high is None else item.high
            while count < high and rng.random() < 0.4:
                count += 1
            for _ in range(count):
                self._draw(item.item, rng, out, depth + 1)
        elif isinstance(item, _Alt):
            for part in rng.choice(item.options):
                self._draw(part, rng, out, depth + 1)


def _parse_class(body: str) -> _Class:
    negated = body.startswith("^")
    body = body[1:] if negated else body
    chars: set[str] = set()
    decoded: list[str] = []
    i = 0
    while i < len(body):
        if body[i] == "\\":
            decoded.append({"n": "\n", "t": "\t", "r": "\r"}.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            decoded.append(body[i])
            i += 1
    j = 0
    while j < len(decoded):
        if j + 2 < len(decoded) and decoded[j + 1] == "-":
            chars.update(chr(c) for c in range(ord(decoded[j]), ord(decoded[j + 2]) + 1))
            j += 3
        else:
            chars.add(decoded[j])
            j += 1
    return _Class(negated, chars)
