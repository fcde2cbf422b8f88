"""GBNF grammars that force an answer into the edit format, for a retry.

After a malformed answer, a backend that supports grammars (llama.cpp) is
asked again under a grammar built from the files the model may change:

- search/replace: each block names one of the files, and its SEARCH part is
  a run of consecutive lines of that file that starts at a line found only
  once in the file. Every search block is lines of the file and matches
  exactly one place, so the edit applies.
- region: REGION names one of the regions the files have (top-level
  functions and methods of Python files, `perfsup:begin NAME` blocks), then
  a fenced block of new text.

The replacement text is free within bounds that keep it code-like and short:
at most MAX_REPLACE_LINES lines, each blank or an indentation then a letter,
`_`, `#`, a closing bracket or a quote, then at most 80 characters; so a
small model cannot write marker characters or prose art, and ends its block
within its answer budget. A region rewrite of a Python function starts with
its `def NAME(` line.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from pathlib import PurePosixPath

_MARKER = re.compile(r"perfsup:begin\s+(\S+)")
MAX_LINES_PER_FILE = 400  # keeps the grammar (and llama.cpp's parser) small
MAX_REPLACE_LINES = 8  # bounds a small model that would repeat a line forever
MAX_REGION_LINES = 16


def _lit(text: str) -> str:
    """A GBNF string literal (JSON escaping is a subset GBNF reads)."""
    return json.dumps(text, ensure_ascii=False)


_COMMON = r"""
description ::= "DESCRIPTION: " text "\n" rationale?
rationale ::= "RATIONALE: " text "\n"
text ::= [^\n]{1,160}
newline ::= codeline
codeline ::= [ ]{0,16} [a-zA-Z_#)\]}"'] [^\n]{0,80} "\n" | "\n"
"""


def search_replace_grammar(files: Mapping[str, str]) -> str:
    """A grammar for 1 to 3 search/replace blocks on `files` (path -> text)."""
    rules: list[str] = []
    blocks: list[str] = []
    for index, (path, text) in enumerate(sorted(files.items())):
        lines = text.splitlines()[:MAX_LINES_PER_FILE]
        counts: dict[str, int] = {}
        for line in lines:
            counts[line] = counts.get(line, 0) + 1
        starts = [i for i, line in enumerate(lines) if counts[line] == 1 and line.strip()]
        if not starts:
            continue
        # f{index}l{i}: the lines i, i+1, ... (stopping after any of them)
        for i, line in enumerate(lines):
            tail = f" f{index}l{i + 1}?" if i + 1 < len(lines) else ""
            rules.append(f"f{index}l{i} ::= {_lit(line + chr(10))}{tail}")
        rules.append(f"search{index} ::= " + " | ".join(f"f{index}l{i}" for i in starts))
        blocks.append(
            f"{_lit(path + chr(10) + '<<<<<<< SEARCH' + chr(10))} search{index} "
            f'"=======\\n" newline{{0,{MAX_REPLACE_LINES}}} ">>>>>>> REPLACE\\n"'
        )
    if not blocks:
        raise ValueError("no file has a line that appears only once: nothing to anchor a search")
    head = [
        "root ::= description block (block (block)?)?",
        "block ::= " + " | ".join(blocks),
    ]
    return "\n".join(head + rules) + _COMMON


def region_names(path: str, text: str) -> list[str]:
    """The regions of a file: marked blocks, and for Python its functions and methods."""
    names = [m.group(1) for m in _MARKER.finditer(text)]
    if PurePosixPath(path).suffix == ".py":
        try:
            tree = ast.parse(text)
        except SyntaxError:
            return names
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names.append(node.name)
            elif isinstance(node, ast.ClassDef):
                names.extend(
                    f"{node.name}.{item.name}"
                    for item in node.body
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                )
    return names


def region_grammar(files: Mapping[str, str]) -> str:
    """A grammar for one REGION rewrite of a region that exists in `files`.

    A Python function's new text must start with its `def NAME(` line.
    """
    targets: list[str] = []
    for path, text in sorted(files.items()):
        python = PurePosixPath(path).suffix == ".py"
        for name in region_names(path, text):
            header = _lit(f"{path}::{name}\n```{'python' if python else ''}\n")
            if python and "." not in name:
                header += " " + _lit(f"def {name}(")
            targets.append(header)
    if not targets:
        raise ValueError("no function, method or marked block to rewrite")
    return (
        'root ::= description "REGION: " target firstline '
        f'bodyline{{0,{MAX_REGION_LINES}}} "```\\n"\n'
        "target ::= " + " | ".join(targets) + "\n"
        'firstline ::= [^`\\n] [^\\n]{0,80} "\\n"\n'
        # the rest is indented, so no line of it can read as another REGION line
        'bodyline ::= [ ]{1,16} [^\\n]{1,80} "\\n" | "\\n"\n' + _COMMON
    )


def retry_grammar(edit_format: str, files: Mapping[str, str]) -> str | None:
    """The grammar for a retry in `edit_format`, or None when `files` give nothing to anchor."""
    try:
        if edit_format == "region":
            return region_grammar(files)
        return search_replace_grammar(files)
    except ValueError:
        return None
