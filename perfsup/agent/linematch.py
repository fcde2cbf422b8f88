"""Finding a model's SEARCH lines in a file, in bounded time.

The SEARCH text comes from the model, so the applier's matching must not
cost more than a bounded amount whatever it holds:

- `find_runs` finds a run of equal lines by scanning for the run's first
  line (a C-level `list.index`) and comparing the rest at those places
  only; it stops after `MAX_PLACES` places (enough to call a block
  ambiguous and to show where).
- `similar_windows` scores windows of the file by difflib's ratio, as the
  close-match repair and the "closest lines" hint always did, but only
  where that stays cheap: difflib's ratio grows with the square of the
  text on code-like input (a 4 KB block took seconds), so a block of more
  than `FUZZY_MAX_CHARS` characters gets no fuzzy match at all, every
  window is first screened by an upper bound of the ratio kept up to date
  as the window slides (a few dictionary updates per line), and the exact
  ratio is computed for the `FUZZY_RATIO_CALLS` most promising windows only.
"""

from __future__ import annotations

import difflib
from collections import Counter

MAX_PLACES = 50
FUZZY_MAX_CHARS = 400
FUZZY_RATIO_CALLS = 2


def split_lines(text: str) -> list[str]:
    """Lines without their ends. Unlike str.splitlines, only \\n and \\r\\n end a line:
    a form feed or a Unicode line separator inside a source line stays put."""
    if not text:
        return []
    lines = text.split("\n")
    if "\r" in text:
        lines[:-1] = [line[:-1] if line.endswith("\r") else line for line in lines[:-1]]
    if lines[-1] == "":
        lines.pop()
    return lines


def find_runs(lines: list[str], search: list[str], limit: int = MAX_PLACES) -> list[int]:
    """Start indexes (at most `limit`) where `search` occurs in `lines` as consecutive lines."""
    k = len(search)
    last = len(lines) - k
    if k == 0 or last < 0:
        return []
    first = search[0]
    found: list[int] = []
    i = 0
    while i <= last and len(found) < limit:
        try:
            i = lines.index(first, i, last + 1)
        except ValueError:
            break
        if lines[i : i + k] == search:
            found.append(i)
        i += 1
    return found


def similar_windows(lines: list[str], search: list[str], floor: float) -> list[tuple[float, int]]:
    """(ratio, start) of windows of len(search) lines with difflib ratio >= floor, best
    first, among the few windows most likely to reach it (see the module docstring)."""
    k = len(search)
    needle = "\n".join(line.rstrip() for line in search)
    if not k or len(lines) < k or len(needle) > FUZZY_MAX_CHARS:
        return []
    bounds = _ratio_bounds(lines, needle, k)
    promising = sorted(
        ((bound, start) for start, bound in enumerate(bounds) if bound >= floor),
        key=lambda item: (-item[0], item[1]),
    )[:FUZZY_RATIO_CALLS]
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(needle)
    scored: list[tuple[float, int]] = []
    for _, start in promising:
        matcher.set_seq1("\n".join(line.rstrip() for line in lines[start : start + k]))
        ratio = matcher.ratio()
        if ratio >= floor:
            scored.append((ratio, start))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return scored


def _ratio_bounds(lines: list[str], needle: str, k: int) -> list[float]:
    """difflib's quick_ratio (an upper bound of its ratio) of every window of k lines,
    each from the last by adding one line's character counts and removing another's."""
    want = Counter(needle)
    stripped = [line.rstrip() for line in lines]
    counts = [Counter(line) for line in stripped]
    have: dict[str, int] = {"\n": k - 1}
    shared = min(k - 1, want.get("\n", 0))
    length = k - 1

    def add(counter: Counter[str], sign: int) -> int:
        change = 0
        for char, n in counter.items():
            before = have.get(char, 0)
            after = before + sign * n
            have[char] = after
            cap = want.get(char, 0)
            if cap:  # the change in min(count, cap), without calling min()
                change += (after if after < cap else cap) - (before if before < cap else cap)
        return change

    for i in range(k):
        shared += add(counts[i], 1)
        length += len(stripped[i])
    bounds = [2.0 * shared / (length + len(needle)) if length + len(needle) else 1.0]
    for start in range(1, len(lines) - k + 1):
        shared += add(counts[start - 1], -1) + add(counts[start + k - 1], 1)
        length += len(stripped[start + k - 1]) - len(stripped[start - 1])
        bounds.append(2.0 * shared / (length + len(needle)) if length + len(needle) else 1.0)
    return bounds
