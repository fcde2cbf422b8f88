"""Code slices: a long file's hot functions whole, with their context, in a prompt that fits."""

from __future__ import annotations

from pathlib import Path

from perfsup.agent.apply import apply_edit
from perfsup.agent.edits import parse_answer
from perfsup.agent.hotspots import HotSpot, code_slices
from perfsup.agent.prompt import build_messages
from perfsup.agent.slices import SliceLevel, slice_source
from perfsup.agent.tokens import estimate_tokens
from perfsup.config import AccessRules

FILLER = "".join(
    f"def cold{i}(x):\n    '''Cold helper {i}.'''\n    return x * {i} + len(str(x))\n\n\n"
    for i in range(600)
)  # 3,000 lines
PYTHON = (
    "import re\nfrom collections import Counter\n\n\n"
    + FILLER
    + "def helper(word):\n    '''Lower-case a word.\n\n    Long details.'''\n"
    + "    return word.lower()\n\n\n"
    + "class Stats:\n    '''Statistics.'''\n\n    def cold_method(self):\n        return 1\n\n"
    + "    def hot(self, text):\n        words = re.findall(r'\\w+', text)\n"
    + "        return Counter(helper(w) for w in words)\n"
)  # the hot method is the file's last lines
HOT_LINE = PYTHON.splitlines().index("    def hot(self, text):") + 1


def test_a_python_slice_holds_the_hot_method_at_the_end_of_a_long_file() -> None:
    piece = slice_source("src/stats.py", PYTHON, [("hot", HOT_LINE)])
    assert piece is not None and piece.functions == ["Stats.hot"]
    text = piece.text
    # the imports and the hot method whole, under its class line, as file lines
    assert "import re\nfrom collections import Counter\n" in text
    hot_code = "\n".join(PYTHON.splitlines()[HOT_LINE - 1 :])
    assert "class Stats:\n" + hot_code in text
    # what it calls: signature and the docstring's first paragraph, not the body
    assert 'def helper(word):\n    """Lower-case a word."""' in text
    assert "return word.lower()" not in text
    # the rest as an outline with line numbers, not its code
    assert "# 3000: def cold599(x):" in text and "return x * 599" not in text
    assert "# 5: def cold0(x):" not in text  # far from the hot code: counted, not listed
    assert "more definitions not listed)" in text
    assert "# ... (lines 3-" in text  # the gap is said
    assert estimate_tokens(text) < estimate_tokens(PYTHON) // 5
    # smaller levels drop the outline, then the callees
    smaller = slice_source("src/stats.py", PYTHON, [("hot", HOT_LINE)], SliceLevel.NO_CALLEES)
    assert smaller is not None and "cold599" not in smaller.text
    assert "def helper" not in smaller.text
    assert hot_code in smaller.text


def test_an_edit_written_against_a_slice_applies_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "stats.py").write_text(PYTHON)
    region = (
        "DESCRIPTION: count without a generator\nREGION: src/stats.py::Stats.hot\n```python\n"
        "    def hot(self, text):\n        words = re.findall(r'\\w+', text.lower())\n"
        "        return Counter(words)\n```\n"
    )
    apply_edit(tmp_path, parse_answer(region))
    after = (tmp_path / "src" / "stats.py").read_text()
    assert after.endswith("return Counter(words)\n") and "def cold599(x):" in after


def test_a_prompt_of_a_long_file_shows_the_hot_code_and_fits() -> None:
    spot = HotSpot("src/stats.py", HOT_LINE, "hot", 1000, 0.5, 0.9)
    slices = code_slices({"src/stats.py": PYTHON}, [spot])
    messages = build_messages(
        goal="make hot faster", rules=AccessRules(writable=["src"]),
        sources={"src/stats.py": PYTHON}, inquiry=[], failed_tries=[], last_failure=None,
        hints=[], edit_format="region", context_tokens=4096, answer_tokens=1024,
        regions=["src/stats.py::Stats.hot"], hot_files=["src/stats.py"], slices=slices,
        reserve_tokens=256,
    )  # fmt: skip
    user = messages[1].content
    assert "def hot(self, text):" in user and "Counter(helper(w) for w in words)" in user
    assert "### src/stats.py (a slice of 3" in user
    assert sum(estimate_tokens(m.content) + 4 for m in messages) <= 4096 - 1024 - 256
    # without a slice the same budget cuts the file to its first lines: the hot code is lost
    cut = build_messages(
        goal="make hot faster", rules=AccessRules(writable=["src"]),
        sources={"src/stats.py": PYTHON}, inquiry=[], failed_tries=[], last_failure=None,
        hints=[], edit_format="region", context_tokens=4096, answer_tokens=1024,
        hot_files=["src/stats.py"],
    )[1].content  # fmt: skip
    assert "def hot(self, text):" not in cut and "(truncated: only lines 1-" in cut


GO = (
    'package words\n\nimport (\n\t"strings"\n)\n\n'
    + "".join(f"func cold{i}(x int) int {{\n\treturn x * {i}\n}}\n\n" for i in range(300))
    + "// lower makes a word lower case.\n"
    + "func lower(w string) string { return strings.ToLower(w) }\n\n"
    + "type Counter struct{ seen map[string]int }\n\n"
    + "func (c *Counter) Add(text string) {\n\tfor _, w := range strings.Fields(text) {\n"
    + "\t\tc.seen[lower(w)]++\n\t}\n}\n"
)  # the hot method is the file's last lines


def test_a_go_slice_holds_the_hot_method_at_the_end_of_a_long_file() -> None:
    # pprof names a method pkg.(*Type).Name
    piece = slice_source("words/count.go", GO, [("words.(*Counter).Add", None)])
    assert piece is not None and piece.functions == ["Counter.Add"]
    text = piece.text
    assert text.startswith("package words\n\nimport (")  # a blank gap is not a gap
    assert 'import (\n\t"strings"\n)' in text
    add = GO[GO.index("func (c *Counter) Add") :].rstrip("\n")
    assert add in text
    assert "// lower makes a word lower case.\nfunc lower(w string) string" in text
    assert "strings.ToLower" not in text  # callee: signature only
    assert "// 1203: func cold299(x int) int\n" in text and "return x * 299" not in text
    assert estimate_tokens(text) < estimate_tokens(GO) // 5


def test_files_the_slicer_cannot_read_are_not_sliced() -> None:
    assert slice_source("src/broken.py", "def f(:\n", [("f", 1)]) is None
    assert slice_source("src/x.rs", "fn main() {}\n", [("main", 1)]) is None
    assert slice_source("src/stats.py", PYTHON, [("absent", None)]) is None
    short = {"src/short.py": "def f():\n    return 1\n"}
    assert code_slices(short, [HotSpot("src/short.py", 1, "f", 1, 1.0, 1.0)]) == {}
