"""GBNF grammars that force an answer into the edit format, for a retry.

After a malformed answer, a backend that supports grammars (llama.cpp) is
asked again under a grammar built from the files the model may change, such
that every answer the grammar allows is an edit that applies:

- search/replace: each block names one of the files, and its SEARCH part is
  a run of consecutive lines of that file that starts at a line found only
  once in the file, so it matches exactly one place. In a Python file a
  SEARCH part is a run of whole statements of one block (a function body,
  a loop body, the module) and its replacement is written in the Python
  subset of `perfsup.agent.pygrammar` at that indentation: the file still
  parses after the edit.
- region: REGION names one of the regions the files have (top-level
  functions and methods of Python files, `perfsup:begin NAME` blocks), then
  a fenced block of new text. For a Python function the new text is its
  own decorator and `def` lines, copied, its docstring if it has one, and
  a body in the Python subset: the file still parses after the edit.

Text in other files is free within bounds that keep it code-like and
short: at most MAX_REPLACE_LINES lines, each blank or an indentation then a
letter, `_`, `#`, a closing bracket or a quote, then at most 80 characters.
Every part of every grammar is bounded, so the answer ends with its closing
line; a grammar retry may use the whole room left in the context for it
(see `perfsup.agent.llama_child`).

What a grammar cannot exclude is an answer that copies the code back
unchanged; `forbid_unchanged` gives the rule the llama.cpp child applies
against it (see `perfsup.agent.unchanged`).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from pathlib import PurePosixPath

from perfsup.agent.limits import parse_python_or_none
from perfsup.agent.pygrammar import BODY_STATEMENTS, StatementGrammar, lexicon
from perfsup.agent.unchanged import ForbidUnchanged

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
text ::= [a-zA-Z0-9] [^\n]{0,99}
newline ::= codeline
codeline ::= [ ]{0,16} [a-zA-Z_#)\]}"'] [^\n]{0,80} "\n" | "\n"
"""


def search_replace_grammar(files: Mapping[str, str]) -> str:
    """A grammar for one search/replace block on `files` (path -> text)."""
    rules: list[str] = []
    blocks: list[str] = []
    python = _python_grammar(files)
    for index, (path, text) in enumerate(sorted(files.items())):
        lines = text.splitlines()[:MAX_LINES_PER_FILE]
        counts: dict[str, int] = {}
        for line in lines:
            counts[line] = counts.get(line, 0) + 1
        head = _lit(path + chr(10) + "<<<<<<< SEARCH" + chr(10))
        runs = _statement_runs(text, lines) if python is not None and _is_python(path) else None
        if runs is not None:
            alternatives = []
            for number, (chain, indent, in_loop) in enumerate(runs):
                if counts[lines[chain[0][0]]] != 1 or not lines[chain[0][0]].strip():
                    continue  # the run must start at a line found once: one place only
                rule = f"f{index}r{number}"
                for k, (first, last) in enumerate(chain):
                    if k:  # the blank and comment lines between statements belong to the run
                        first = chain[k - 1][1] + 1
                    body = " ".join(_lit(lines[i] + chr(10)) for i in range(first, last + 1))
                    more = f" {rule}s{k + 1}?" if k + 1 < len(chain) else ""
                    rules.append(f"{rule}s{k} ::= {body}{more}")
                assert python is not None
                replacement = python.block(indent, in_loop)
                alternatives.append(f'{head} {rule}s0 "=======\\n" {replacement}')
            if alternatives:
                blocks.append("(" + " | ".join(alternatives) + ') ">>>>>>> REPLACE\\n"')
            continue
        starts = [i for i, line in enumerate(lines) if counts[line] == 1 and line.strip()]
        if not starts:
            continue
        # f{index}l{i}: the lines i, i+1, ... (stopping after any of them)
        for i, line in enumerate(lines):
            tail = f" f{index}l{i + 1}?" if i + 1 < len(lines) else ""
            rules.append(f"f{index}l{i} ::= {_lit(line + chr(10))}{tail}")
        rules.append(f"search{index} ::= " + " | ".join(f"f{index}l{i}" for i in starts))
        blocks.append(
            f"{head} search{index} "
            f'"=======\\n" newline{{0,{MAX_REPLACE_LINES}}} ">>>>>>> REPLACE\\n"'
        )
    if not blocks:
        raise ValueError("no file has a line that appears only once: nothing to anchor a search")
    head_rules = [
        # one block: a second one could search for lines the first has changed
        "root ::= description block",
        "block ::= " + " | ".join(f"({b})" for b in blocks),
    ]
    extra = python.rules if python is not None else []
    return "\n".join(head_rules + rules + extra) + _COMMON


def _is_python(path: str) -> bool:
    return PurePosixPath(path).suffix == ".py"


def _python_grammar(files: Mapping[str, str]) -> StatementGrammar | None:
    """The statement rules for the Python files of `files`, or None when there are none."""
    names: set[str] = set()
    strings: set[str] = set()
    for path, text in files.items():
        if _is_python(path):
            more_names, more_strings = lexicon(text)
            names.update(more_names)
            strings.update(more_strings)
    return StatementGrammar(sorted(names), sorted(strings)) if names else None


_Run = tuple[list[tuple[int, int]], int, bool]  # statement spans (0-based lines), indent, in loop


def _statement_runs(text: str, lines: list[str]) -> list[_Run] | None:
    """Per statement of every block of a Python file: the spans from it to the block's end.

    None when the file does not parse (its lines are then offered like any text).
    """
    tree = parse_python_or_none(text)
    if tree is None:
        return None
    runs: list[_Run] = []

    def visit(body: list[ast.stmt], in_loop: bool) -> None:
        spans = []
        for stmt in body:
            decorators = getattr(stmt, "decorator_list", [])
            first = min([stmt.lineno, *(d.lineno for d in decorators)]) - 1
            last = (stmt.end_lineno or stmt.lineno) - 1
            spans.append((first, last))
        for i, stmt in enumerate(body):
            if spans[i][1] < len(lines) and (i == 0 or spans[i][0] > spans[i - 1][1]):
                # statements sharing a line (`a = 1; b = 2`) cannot be cut apart
                chain = [s for s in spans[i:] if s[1] < len(lines)]
                runs.append((chain, stmt.col_offset, in_loop))
        for stmt in body:
            loop = isinstance(stmt, ast.For | ast.AsyncFor | ast.While)
            function = isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(stmt, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    visit(inner, (in_loop or (loop and field == "body")) and not function)
            for handler in getattr(stmt, "handlers", []):
                visit(handler.body, in_loop and not function)

    visit(tree.body, False)
    return runs


def region_names(path: str, text: str) -> list[str]:
    """The regions of a file: marked blocks, and for Python its functions and methods."""
    names = [m.group(1) for m in _MARKER.finditer(text)]
    if PurePosixPath(path).suffix == ".py":
        tree = parse_python_or_none(text)
        if tree is None:
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

    A Python function's new text is its own decorator and def lines, its
    docstring if it has one, and a body in the Python subset.
    """
    targets: list[str] = []
    python = _python_grammar(files)
    free = False
    for path, text in sorted(files.items()):
        is_python = _is_python(path)
        spans = _function_spans(text) if is_python else {}
        for name in region_names(path, text):
            header = _lit(_region_header(path, name))
            span = spans.get(name)
            if python is not None and span is not None and name not in _markers(text):
                copied, indent = span
                body = python.block(indent)
                targets.append(f"{header} {copied} {body}")
            else:
                free = True
                targets.append(f"{header} firstline bodyline{{0,{MAX_REGION_LINES}}}")
    if not targets:
        raise ValueError("no function, method or marked block to rewrite")
    rules = [
        'root ::= description "REGION: " target "```\\n"',
        "target ::= " + " | ".join(f"({t})" for t in targets),
    ]
    if free:
        rules += [
            'firstline ::= [^`\\n] [^\\n]{0,80} "\\n"',
            # the rest is indented, so no line of it can read as another REGION line
            'bodyline ::= [ ]{1,16} [^\\n]{1,80} "\\n" | "\\n"',
        ]
    extra = python.rules if python is not None else []
    return "\n".join(rules + extra) + _COMMON


def _region_header(path: str, name: str) -> str:
    """The REGION line's target and the opening fence, as the region grammar writes them."""
    return f"{path}::{name}\n```{'python' if _is_python(path) else ''}\n"


def unchanged_regions(files: Mapping[str, str]) -> list[str]:
    """Every region as `region_grammar` lets it be copied back unchanged.

    Each is its REGION line, opening fence and original text. A region is
    left out when the grammar has no room for a line after the copy (so
    masking its close would leave nothing to write): a function body of
    BODY_STATEMENTS statements, or free text of more than MAX_REGION_LINES
    + 1 lines. A copy the grammar cannot write needs no rule but does no harm.
    """
    texts: list[str] = []
    for path, text in sorted(files.items()):
        lines = text.splitlines()
        marked = _markers(text)
        nodes = _function_nodes(text) if _is_python(path) else {}
        spans = _function_spans(text) if _is_python(path) else {}
        for name in region_names(path, text):
            if name in marked:
                inner = _marked_lines(lines, name)
                room = inner is not None and len(inner) <= MAX_REGION_LINES
            elif name in nodes:
                node = nodes[name]
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
                inner = lines[first : node.end_lineno or node.lineno]
                if name in spans:  # a Python body under the grammar: count its statements
                    doc = _has_docstring(node) and len(node.body) > 1
                    room = len(node.body) - doc < BODY_STATEMENTS
                else:  # written as free text
                    room = len(inner) <= MAX_REGION_LINES
            else:
                continue
            if inner is not None and room:
                body = "".join(line + "\n" for line in inner)
                texts.append(f"REGION: {_region_header(path, name)}{body}")
    return texts


def _marked_lines(lines: list[str], name: str) -> list[str] | None:
    """The lines between `perfsup:begin NAME` and the next `perfsup:end NAME`, as apply reads."""

    def marker(kind: str) -> re.Pattern[str]:
        return re.compile(rf"perfsup:{kind}\s+{re.escape(name)}(?![\w.\-])")

    begins = [i for i, line in enumerate(lines) if marker("begin").search(line)]
    if len(begins) != 1:
        return None
    ends = [i for i, line in enumerate(lines) if i > begins[0] and marker("end").search(line)]
    return lines[begins[0] + 1 : ends[0]] if ends else None


def _has_docstring(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    first = node.body[0]
    return (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    )


def _function_nodes(text: str) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    """Top-level functions and methods by region name (`name`, `Class.name`)."""
    tree = parse_python_or_none(text)
    if tree is None:
        return {}
    found: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found[node.name] = node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    found[f"{node.name}.{item.name}"] = item
    return found


def _markers(text: str) -> set[str]:
    return {m.group(1) for m in _MARKER.finditer(text)}


def _function_spans(text: str) -> dict[str, tuple[str, int]]:
    """Per function (`name`, `Class.name`): its decorator and def lines as a grammar
    sequence (plus its docstring as an optional part), and its body's indentation.

    Functions whose body starts on the def line are left out (no lines to keep).
    """
    tree = parse_python_or_none(text)
    if tree is None:
        return {}
    lines = text.splitlines()
    found: dict[str, tuple[str, int]] = {}

    def add(name: str, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
        body = node.body[0]
        if body.lineno - 1 <= node.lineno - 1:
            return
        copied = " ".join(_lit(line + "\n") for line in lines[first : body.lineno - 1])
        if (
            isinstance(body, ast.Expr)
            and isinstance(body.value, ast.Constant)
            and isinstance(body.value.value, str)
            and len(node.body) > 1
        ):
            end = body.end_lineno or body.lineno
            doc = " ".join(_lit(line + "\n") for line in lines[body.lineno - 1 : end])
            copied += f" ({doc})?"
        found[name] = (copied, body.col_offset)

    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            add(node.name, node)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    add(f"{node.name}.{item.name}", item)
    return found


def retry_grammar(edit_format: str, files: Mapping[str, str]) -> str | None:
    """The grammar for a retry in `edit_format`, or None when `files` give nothing to anchor."""
    try:
        if edit_format == "region":
            return region_grammar(files)
        return search_replace_grammar(files)
    except ValueError:
        return None


def forbid_unchanged(edit_format: str, files: Mapping[str, str]) -> ForbidUnchanged:
    """What a retry under `retry_grammar(edit_format, files)` may not copy back unchanged."""
    if edit_format == "region":
        return ForbidUnchanged(regions=tuple(unchanged_regions(files)))
    # a SEARCH text of fewer lines than a replacement may have leaves room for one more
    # (MAX_REPLACE_LINES lines of text; a Python replacement allows more statements)
    return ForbidUnchanged(search_replace_lines=MAX_REPLACE_LINES)
