"""Parsing model answers in the edit format, as real models write them."""

from __future__ import annotations

import pytest

from perfsup.agent.edits import MalformedAnswer, RegionRewrite, SearchReplace, parse_answer

PLAIN = """\
DESCRIPTION: compile the pattern once
RATIONALE: re.findall looks the pattern up on every call.
A compiled pattern skips that.
src/words.py
<<<<<<< SEARCH
def words(line):
    return re.findall(r"\\w+", line)
=======
_WORD = re.compile(r"\\w+")


def words(line):
    return _WORD.findall(line)
>>>>>>> REPLACE
"""


def test_plain_search_replace() -> None:
    edit = parse_answer(PLAIN)
    assert edit.description == "compile the pattern once"
    assert edit.rationale == (
        "re.findall looks the pattern up on every call.\nA compiled pattern skips that."
    )
    assert edit.region is None
    assert edit.blocks == [
        SearchReplace(
            "src/words.py",
            'def words(line):\n    return re.findall(r"\\w+", line)\n',
            '_WORD = re.compile(r"\\w+")\n\n\ndef words(line):\n    return _WORD.findall(line)\n',
        )
    ]
    assert edit.paths == ["src/words.py"]


def test_fenced_blocks_with_path_inside_and_outside_the_fence() -> None:
    answer = """\
Sure! Here is my change.

**DESCRIPTION:** hoist the constant and reuse the buffer

`src/a.py`
```python
<<<<<<< SEARCH
x = 1
=======
x = 2
>>>>>>> REPLACE
```

And the second file:

```python
src/b.py
<<<<<<< SEARCH
    buf = []
=======
    buf.clear()
>>>>>>> REPLACE
```
```
<<<<<<< SEARCH
y = 3
=======
y = 4
>>>>>>> REPLACE
```
"""
    edit = parse_answer(answer)
    assert edit.description == "hoist the constant and reuse the buffer"
    assert [(b.path, b.search, b.replace) for b in edit.blocks] == [
        ("src/a.py", "x = 1\n", "x = 2\n"),
        ("src/b.py", "    buf = []\n", "    buf.clear()\n"),
        ("src/b.py", "y = 3\n", "y = 4\n"),  # no path line: same file as the block before
    ]
    assert edit.paths == ["src/a.py", "src/b.py"]
    assert edit.rationale == ""


def test_empty_search_creates_a_file() -> None:
    edit = parse_answer(
        "DESCRIPTION: add a helper\nFile: src/fast.py\n<<<<<<< SEARCH\n=======\n"
        "def f():\n    return 1\n>>>>>>> REPLACE\n"
    )
    assert edit.blocks == [SearchReplace("src/fast.py", "", "def f():\n    return 1\n")]


def test_region_rewrite() -> None:
    answer = """\
DESCRIPTION: use sum()
RATIONALE: runs the loop in C
REGION: src/stats.py::Stats.mean
```python
def mean(self):
    return sum(self.values) / len(self.values)
```
Hope this helps!
"""
    edit = parse_answer(answer)
    assert edit.blocks == []
    assert edit.rationale == "runs the loop in C"
    assert edit.region == RegionRewrite(
        "src/stats.py",
        "Stats.mean",
        "def mean(self):\n    return sum(self.values) / len(self.values)\n",
    )
    assert edit.paths == ["src/stats.py"]


def test_python_ellipsis_kept_from_the_search_text_is_not_a_placeholder() -> None:
    answer = (
        "DESCRIPTION: add slots\nsrc/p.py\n<<<<<<< SEARCH\nclass P(Protocol):\n"
        "    def f(self) -> int:\n        ...\n=======\nclass P(Protocol):\n"
        "    __slots__ = ()\n\n    def f(self) -> int:\n        ...\n>>>>>>> REPLACE\n"
    )
    assert parse_answer(answer).blocks[0].replace.endswith("        ...\n")


@pytest.mark.parametrize(
    "placeholder",
    [
        "    # ... rest of the function unchanged",
        "    ...",
        "    # ... existing code ...",
        "    // rest unchanged",
        "    # existing code here",
        "    # (the rest of the code remains unchanged)",
        "    …",
    ],
)
def test_placeholders_are_refused(placeholder: str) -> None:
    answer = (
        "DESCRIPTION: speed up\nsrc/a.py\n<<<<<<< SEARCH\ndef f():\n    return slow()\n"
        f"=======\ndef f():\n    return fast()\n{placeholder}\n>>>>>>> REPLACE\n"
    )
    with pytest.raises(MalformedAnswer) as info:
        parse_answer(answer)
    message = str(info.value)
    assert "block 1 (src/a.py)" in message and "placeholder" in message
    assert repr(placeholder.strip()) in message


def test_placeholder_in_region_is_refused() -> None:
    answer = "DESCRIPTION: x\nREGION: a.py::f\n```python\ndef f():\n    ...\n```\n"
    with pytest.raises(MalformedAnswer, match=r"REGION a\.py::f contains the placeholder"):
        parse_answer(answer)


def test_ordinary_comments_are_not_placeholders() -> None:
    answer = (
        "DESCRIPTION: x\na.py\n<<<<<<< SEARCH\nx = 1\n=======\n"
        "# reuse the existing buffer; the rest of it is cleared below\nx = 2\n>>>>>>> REPLACE\n"
    )
    assert parse_answer(answer).blocks[0].replace.startswith("# reuse")


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("src/a.py\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n", "no DESCRIPTION line"),
        ("DESCRIPTION:   \na.py\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n", "empty"),
        ("DESCRIPTION: make it fast\nI would cache the results.\n", "no change in it"),
        ("", "no DESCRIPTION line"),
        ("DESCRIPTION: x\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n", "no file path line"),
        (
            "DESCRIPTION: x\nThis makes it faster.\n<<<<<<< SEARCH\nx\n=======\ny\n"
            ">>>>>>> REPLACE\n",
            "'This makes it faster.', which is not a file path",
        ),
        ("DESCRIPTION: x\na.py\n<<<<<<< SEARCH\nx = 1\nx = 2\n", "no '=======' line"),
        ("DESCRIPTION: x\na.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n", "not closed by"),
        (
            "DESCRIPTION: x\na.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n"
            "b.py\n<<<<<<< SEARCH\ny\n=======\nz\n>>>>>>> REPLACE\n",
            "block 1 (a.py) is not closed",
        ),
        ("DESCRIPTION: x\nREGION: a.py\n```python\ndef f(): pass\n```\n", "does not name a region"),
        ("DESCRIPTION: x\nREGION: a.py::f\ndef f(): pass\n", "not followed by code"),
        ("DESCRIPTION: x\nREGION: a.py::f\n```python\ndef f():\n    return 1\n", "not closed"),
        ("DESCRIPTION: x\nREGION: a.py::f\n```python\n\n```\n", "is empty"),
        (
            "DESCRIPTION: x\nREGION: a.py::f\n```python\ndef f(): pass\n```\n"
            "a.py\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n",
            "mixes a REGION",
        ),
    ],
)
def test_malformed_answers_say_what_is_wrong(answer: str, expected: str) -> None:
    with pytest.raises(MalformedAnswer) as info:
        parse_answer(answer)
    assert expected in str(info.value)
    assert "expected" in str(info.value)


def test_windows_line_ends() -> None:
    edit = parse_answer(PLAIN.replace("\n", "\r\n"))
    assert edit.blocks[0].search == 'def words(line):\n    return re.findall(r"\\w+", line)\n'
