"""Go sources for the slicer (`perfsup.agent.slices`), parsed with tree-sitter.

The top level of a Go file is its package clause, imports, and function,
method, type, const and var declarations; a method is named `Type.Name`
(the receiver's type without its pointer), as pprof names it
`pkg.(*Type).Name`. The comment lines right above a declaration are its doc.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import tree_sitter_go
from tree_sitter import Language, Node, Parser

from perfsup.agent.outline import Outline, Unit

_HEADER = {"package_clause", "import_declaration"}
_DECLARATIONS = {"type_declaration", "const_declaration", "var_declaration"}


@cache
def _parser() -> Parser:
    return Parser(Language(tree_sitter_go.language()))


def go_outline(text: str) -> Outline | None:
    """The package clause and imports, and the declarations of a Go file; None if it has errors."""
    source = text.encode("utf-8")
    root = _parser().parse(source).root_node
    if root.has_error:
        return None
    lines = text.splitlines()
    header: list[tuple[int, int]] = []
    units: list[Unit] = []
    children = list(root.children)
    for index, node in enumerate(children):
        start, end = node.start_point[0] + 1, node.end_point[0] + 1
        if node.type in _HEADER:
            header.append((start, end))
        elif node.type in ("function_declaration", "method_declaration"):
            body = node.child_by_field_name("body")
            sig_end = body.start_point[0] + 1 if body is not None else start
            signature = "\n".join(lines[start - 1 : sig_end])
            if body is not None:  # the text up to the body's `{`
                signature = _text(source, node.start_byte, body.start_byte).rstrip()
            units.append(
                Unit(
                    _name(node, source), start, end, signature,
                    _doc(children, index, lines), calls=_calls(node, source),
                )
            )  # fmt: skip
        elif node.type in _DECLARATIONS:
            first = lines[start - 1]
            units.append(Unit(_declared(node, source) or first.strip(), start, end, first))
    return Outline(header, units)


def _text(source: bytes, start: int, end: int) -> str:
    return source[start:end].decode("utf-8", errors="replace")


def _name(node: Node, source: bytes) -> str:
    name = node.child_by_field_name("name")
    plain = _text(source, name.start_byte, name.end_byte) if name is not None else "?"
    receiver = node.child_by_field_name("receiver")
    if node.type != "method_declaration" or receiver is None:
        return plain
    types = [n for n in _walk(receiver) if n.type == "type_identifier"]
    owner = _text(source, types[0].start_byte, types[0].end_byte) if types else ""
    return f"{owner}.{plain}" if owner else plain


def _declared(node: Node, source: bytes) -> str | None:
    for child in _walk(node):
        if child.type in ("type_identifier", "identifier"):
            return _text(source, child.start_byte, child.end_byte)
    return None


def _doc(children: list[Node], index: int, lines: list[str]) -> str:
    """The `//` comment lines that end right above declaration `index`."""
    docs: list[str] = []
    line = children[index].start_point[0]
    for prior in reversed(children[:index]):
        if prior.type != "comment" or prior.end_point[0] + 1 != line:
            break
        docs.insert(0, lines[prior.start_point[0]].strip())
        line = prior.start_point[0]
    return "\n".join(docs)


def _calls(node: Node, source: bytes) -> frozenset[str]:
    names: set[str] = set()
    for child in _walk(node):
        if child.type != "call_expression":
            continue
        function = child.child_by_field_name("function")
        if function is None:
            continue
        prefix = ""
        if function.type == "selector_expression":  # x.F(): a method (or a package's F)
            function = function.child_by_field_name("field") or function
            prefix = "."
        names.add(prefix + _text(source, function.start_byte, function.end_byte))
    return frozenset(names)


def _walk(node: Node) -> Any:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))
