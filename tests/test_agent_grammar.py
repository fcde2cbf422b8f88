"""The retry grammars allow only edits that apply: drawn at random from the
grammar, every answer parses, names a real place, and leaves valid Python.

The draws stand in for a constrained model: llama.cpp can only write what
the grammar allows, so what holds for every draw holds for its answers.
"""

from __future__ import annotations

import ast
import random
from pathlib import Path

import pytest

from perfsup.agent.apply import EditDoesNotApply, apply_edit
from perfsup.agent.edits import parse_answer
from perfsup.agent.grammar import region_grammar, retry_grammar, search_replace_grammar
from tests.gbnf_sample import Grammar

DEMO = Path(__file__).resolve().parents[1] / "perfsup" / "demo" / "target" / "textstats"
DEMO_FILES = {f"textstats/{p.name}": p.read_text() for p in sorted(DEMO.glob("*.py"))}
NESTED = {
    "lib/words.py": (
        "import re\n"
        "\n"
        "\n"
        "class Index:\n"
        '    """Words by position."""\n'
        "\n"
        "    def __init__(self, text):\n"
        "        self.words = text.split()\n"
        "\n"
        "    @property\n"
        "    def size(self):\n"
        "        return len(self.words)\n"
        "\n"
        "    def find(self, word):\n"
        "        for i, w in enumerate(self.words):\n"
        "            if w == word:\n"
        "                break\n"
        "        else:\n"
        "            return -1\n"
        "        return i\n"
        "\n"
        "\n"
        "def count(text, pattern=r'\\w+'):\n"
        "    return len(re.findall(pattern, text))\n"
    ),
    "lib/notes.txt": "first line\nsecond line\n",
}


def _applies(answer: str, files: dict[str, str], root: Path) -> str:
    """Apply a drawn answer to fresh copies of `files`; the reason when it does not."""
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    edit = parse_answer(answer)
    assert set(edit.paths) <= set(files)
    try:
        changed = apply_edit(root, edit)
    except EditDoesNotApply as exc:
        return str(exc)
    for path in changed:
        if path.endswith(".py"):
            ast.parse((root / path).read_text())  # raises if the edit broke the file
    return ""


@pytest.mark.parametrize("files", [DEMO_FILES, NESTED], ids=["demo", "nested"])
@pytest.mark.parametrize("make", [region_grammar, search_replace_grammar])
def test_every_answer_the_grammar_allows_applies(
    files: dict[str, str], make: object, tmp_path: Path
) -> None:
    grammar = Grammar(make(files))  # type: ignore[operator]
    rng = random.Random(7)
    unchanged = 0
    for n in range(150):
        why = _applies(grammar.sample(rng), files, tmp_path / str(n))
        if "changes nothing" in why:
            unchanged += 1  # the model copied the code exactly: allowed, and rare
            continue
        assert why == "", why
    assert unchanged < 5


def test_a_python_search_block_is_a_run_of_whole_statements() -> None:
    grammar = Grammar(search_replace_grammar(NESTED))
    rng = random.Random(3)
    source = NESTED["lib/words.py"]
    for _ in range(100):
        edit = parse_answer(grammar.sample(rng))
        for block in edit.blocks:
            if block.path.endswith(".py"):
                assert source.count(block.search) == 1
                first = block.search.splitlines()[0]
                # a statement starts there, never a continuation or an `else:`
                assert not first.strip().startswith(("else", "elif", ")"))


def test_a_region_keeps_the_functions_own_def_line() -> None:
    grammar = Grammar(region_grammar(DEMO_FILES))
    rng = random.Random(5)
    for _ in range(50):
        region = parse_answer(grammar.sample(rng)).region
        assert region is not None
        assert region.new_text.startswith(f"def {region.region}(")


def test_break_only_inside_a_loop_and_no_comments() -> None:
    grammar = Grammar(region_grammar(NESTED))
    rng = random.Random(11)
    for _ in range(200):
        region = parse_answer(grammar.sample(rng)).region
        assert region is not None
        tree = ast.parse(region.new_text.replace("\n    ", "\n") if False else _dedent(region))
        for node in ast.walk(tree):
            if isinstance(node, ast.Break | ast.Continue):
                assert _inside_loop(tree, node)
        assert "#" not in region.new_text.split('"""')[-1]


def test_no_grammar_without_anything_to_anchor() -> None:
    assert retry_grammar("search_replace", {"a.txt": "x\nx\n"}) is None
    assert retry_grammar("region", {"a.txt": "just text\n"}) is None


def _dedent(region: object) -> str:
    import textwrap

    return textwrap.dedent(region.new_text)  # type: ignore[attr-defined]


def _inside_loop(tree: ast.AST, target: ast.AST) -> bool:
    def walk(node: ast.AST, in_loop: bool) -> bool | None:
        if node is target:
            return in_loop
        for child in ast.iter_child_nodes(node):
            loop = isinstance(node, ast.For | ast.While) and child in getattr(node, "body", [])
            found = walk(child, in_loop or loop)
            if found is not None:
                return found
        return None

    return bool(walk(tree, False))
