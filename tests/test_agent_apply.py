"""Applying parsed edits to real files, with the safe repairs and the clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfsup.agent.apply import EditDoesNotApply, apply_edit
from perfsup.agent.edits import ProposedEdit, RegionRewrite, SearchReplace, parse_answer

MODULE = '''\
import re


class Parser:
    """Splits lines into words."""

    def __init__(self):
        self.seen = 0

    @staticmethod
    def words(line):
        return re.findall(r"\\w+", line)

    def count(self, lines):
        total = 0
        for line in lines:
            total += len(self.words(line))
        self.seen += total
        return total


def helper(values):
    out = []
    for v in values:
        out.append(v * 2)
    return out
'''


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "parse.py").write_text(MODULE)
    return tmp_path


def blocks(*items: tuple[str, str, str]) -> ProposedEdit:
    return ProposedEdit("test", "", [SearchReplace(*item) for item in items], None)


def region(path: str, name: str, new_text: str) -> ProposedEdit:
    return ProposedEdit("test", "", [], RegionRewrite(path, name, new_text))


def read(root: Path, path: str = "src/parse.py") -> str:
    return (root / path).read_text()


def test_exact_match(root: Path) -> None:
    edit = parse_answer(
        "DESCRIPTION: list comprehension\nsrc/parse.py\n<<<<<<< SEARCH\n"
        "    out = []\n    for v in values:\n        out.append(v * 2)\n    return out\n"
        "=======\n    return [v * 2 for v in values]\n>>>>>>> REPLACE\n"
    )
    assert apply_edit(root, edit) == ["src/parse.py"]
    assert read(root).endswith("def helper(values):\n    return [v * 2 for v in values]\n")


def test_repair_trailing_whitespace(root: Path) -> None:
    path = root / "src" / "parse.py"
    path.write_text(MODULE.replace("        total = 0\n", "        total = 0   \n"))
    apply_edit(root, blocks(("src/parse.py", "        total = 0\n", "        total = 1\n")))
    assert "        total = 1\n" in read(root) and "total = 0" not in read(root)


def test_repair_blank_edge_lines(root: Path) -> None:
    search = "\n\n        self.seen += total\n        return total\n\n\n"
    replace = "\n        return total\n\n"
    apply_edit(root, blocks(("src/parse.py", search, replace)))
    text = read(root)
    assert "self.seen += total" not in text
    assert (
        "            total += len(self.words(line))\n        return total\n\n\ndef helper" in text
    )


def test_repair_uniform_indentation_shift(root: Path) -> None:
    # the model dropped the class indentation of a method body
    search = "total = 0\nfor line in lines:\n    total += len(self.words(line))\n"
    replace = "total = sum(len(self.words(line)) for line in lines)\n"
    apply_edit(root, blocks(("src/parse.py", search, replace)))
    assert (
        "        total = sum(len(self.words(line)) for line in lines)\n        self.seen"
        in read(root)
    )


def test_repair_indentation_shift_inwards(root: Path) -> None:
    # the model indented a top-level block by one level too many
    search = "        out = []\n        for v in values:\n            out.append(v * 2)\n"
    replace = "        out = [v * 2 for v in values]\n"
    apply_edit(root, blocks(("src/parse.py", search, replace)))
    assert "def helper(values):\n    out = [v * 2 for v in values]\n    return out\n" in read(root)


def test_repair_unique_close_match(root: Path) -> None:
    # one character off in a long line: a unique near match
    search = '    def words(line):\n        return re.findall(r"\\w+", lines)\n'
    replace = "    def words(line):\n        return _WORD.findall(line)\n"
    apply_edit(root, blocks(("src/parse.py", search, replace)))
    assert "return _WORD.findall(line)" in read(root)
    assert "re.findall" not in read(root)


def test_ambiguous_block_names_file_block_and_places(root: Path) -> None:
    (root / "dup.py").write_text("def a():\n    return 0\n\n\ndef b():\n    return 0\n")
    edit = blocks(
        ("dup.py", "def a():\n", "def a():  # fine\n"),
        ("dup.py", "    return 0\n", "    return 1\n"),
    )
    with pytest.raises(EditDoesNotApply) as info:
        apply_edit(root, edit)
    message = str(info.value)
    assert message.startswith("dup.py, block 2: the SEARCH text matches 2 places")
    assert "lines 2, 6" in message and "'return 0'" in message
    # nothing was written: the first block's change is not left half-applied
    assert read(root, "dup.py") == "def a():\n    return 0\n\n\ndef b():\n    return 0\n"


def test_missing_block_names_what_did_not_match(root: Path) -> None:
    search = "    def words(line):\n        return line.split()\n"
    with pytest.raises(EditDoesNotApply) as info:
        apply_edit(root, blocks(("src/parse.py", search, "    pass\n")))
    message = str(info.value)
    assert message.startswith("src/parse.py, block 1: the SEARCH text does not match")
    assert "'def words(line):' / 'return line.split()'" in message
    assert "closest lines in the file" in message and "line 11" in message
    assert read(root) == MODULE


def test_edit_that_changes_nothing(root: Path) -> None:
    same = "        total = 0\n"
    with pytest.raises(EditDoesNotApply, match="the edit changes nothing"):
        apply_edit(root, blocks(("src/parse.py", same, same)))


def test_empty_search_creates_a_new_file_only(root: Path) -> None:
    assert apply_edit(root, blocks(("src/new/fast.py", "", "X = 1\n"))) == ["src/new/fast.py"]
    assert read(root, "src/new/fast.py") == "X = 1\n"
    with pytest.raises(EditDoesNotApply, match="SEARCH section is empty but the file exists"):
        apply_edit(root, blocks(("src/parse.py", "", "X = 1\n")))


def test_search_in_a_missing_file(root: Path) -> None:
    with pytest.raises(EditDoesNotApply, match=r"src/nope\.py, block 1: no such file"):
        apply_edit(root, blocks(("src/nope.py", "x = 1\n", "x = 2\n")))


def test_several_blocks_on_one_file_apply_in_order(root: Path) -> None:
    edit = blocks(
        ("src/parse.py", "import re\n", 'import re\n\n_WORD = re.compile(r"\\w+")\n'),
        (
            "src/parse.py",
            '        return re.findall(r"\\w+", line)\n',
            "        return _WORD.findall(line)\n",
        ),
    )
    assert apply_edit(root, edit) == ["src/parse.py"]
    text = read(root)
    assert text.startswith('import re\n\n_WORD = re.compile(r"\\w+")\n')
    assert "return _WORD.findall(line)" in text


def test_crlf_files_keep_their_line_ends(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_bytes(b"x = 1\r\ny = 2\r\n")
    apply_edit(tmp_path, blocks(("a.py", "y = 2\n", "y = 3\n")))
    assert (tmp_path / "a.py").read_bytes() == b"x = 1\r\ny = 3\r\n"


def test_python_that_no_longer_parses_is_refused(root: Path) -> None:
    with pytest.raises(
        EditDoesNotApply, match=r"src/parse.py: after the edit the file no longer parses"
    ):
        apply_edit(root, blocks(("src/parse.py", "        total = 0\n", "        total = (0\n")))
    assert read(root) == MODULE


def test_region_rewrite_of_a_method_keeps_class_indentation(root: Path) -> None:
    new_text = "@staticmethod\ndef words(line):\n    return _WORD.findall(line)\n"
    assert apply_edit(root, region("src/parse.py", "Parser.words", new_text)) == ["src/parse.py"]
    text = read(root)
    assert (
        "        self.seen = 0\n\n    @staticmethod\n    def words(line):\n"
        "        return _WORD.findall(line)\n\n    def count(self, lines):\n"
    ) in text
    assert text.count("@staticmethod") == 1


def test_region_rewrite_of_a_top_level_function(root: Path) -> None:
    new_text = "    def helper(values):\n        return [v * 2 for v in values]\n"
    apply_edit(root, region("src/parse.py", "helper", new_text))
    assert read(root).endswith("def helper(values):\n    return [v * 2 for v in values]\n")


GO_SOURCE = """\
package sum

func Sum(xs []int) int {
\ttotal := 0
\t// perfsup:begin hot_loop
\tfor i := 0; i < len(xs); i++ {
\t\ttotal += xs[i]
\t}
\t// perfsup:end hot_loop
\treturn total
}
"""


def test_region_rewrite_of_a_marker_block(tmp_path: Path) -> None:
    (tmp_path / "sum.go").write_text(GO_SOURCE)
    new_text = (
        "// perfsup:begin hot_loop\nfor _, x := range xs {\n\ttotal += x\n}\n"
        "// perfsup:end hot_loop\n"
    )
    apply_edit(tmp_path, region("sum.go", "hot_loop", new_text))
    assert (tmp_path / "sum.go").read_text() == GO_SOURCE.replace(
        "\tfor i := 0; i < len(xs); i++ {\n\t\ttotal += xs[i]\n\t}\n",
        "\tfor _, x := range xs {\n\t\ttotal += x\n\t}\n",
    )


def test_region_not_found(root: Path) -> None:
    with pytest.raises(EditDoesNotApply, match=r"no function or method 'Parser\.nope'"):
        apply_edit(root, region("src/parse.py", "Parser.nope", "def nope():\n    pass\n"))
    with pytest.raises(EditDoesNotApply, match="perfsup:begin hot"):
        (root / "a.go").write_text("package a\n")
        apply_edit(root, region("a.go", "hot", "x := 1\n"))


def test_unchanged_region_is_refused(root: Path) -> None:
    same = MODULE[MODULE.index("def helper") :]
    with pytest.raises(EditDoesNotApply, match="the edit changes nothing"):
        apply_edit(root, region("src/parse.py", "helper", same))


def test_close_match_in_two_places_is_ambiguous(tmp_path: Path) -> None:
    (tmp_path / "k.py").write_text(
        "value = compute_something(1000000)\nvalue = compute_something(1000001)\n"
    )
    with pytest.raises(EditDoesNotApply, match="matches 2 places \\(as a close match"):
        apply_edit(tmp_path, blocks(("k.py", "value = compute_something(1000002)\n", "x\n")))
