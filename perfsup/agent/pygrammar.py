"""A GBNF grammar for a small subset of Python, so a constrained answer parses.

Used by the retry grammars of `perfsup.agent.grammar`: the new text of a
Python region (or the replacement of a run of whole statements) is written
in this subset, so whatever the model writes under it is valid Python that
`ast.parse` accepts in that place. The subset:

- statements: `return`, assignment (names, attributes, subscripts, tuples
  of names), augmented assignment, expression statements, `pass`; `if` /
  `elif` / `else` and `for`, nested at most two levels below the body;
  `break` and `continue` only inside a `for`. Nothing else: no `while`
  (a small model's endless loop would only end at the timeout), no `try`,
  no `yield` (it would change what the function is), no comments (no
  placeholder text such as "# rest unchanged" can be written).
- expressions: names from the file (plus common builtins; never a keyword),
  numbers, string literals of the file and short plain ones, `True` /
  `False` / `None`, unary minus, `not` at the start, binary and comparison
  operators, attribute access, calls (positional then keyword arguments, a
  `lambda` as a keyword value), subscripts and slices, tuples, lists,
  sets, dicts and list comprehensions, nested three levels deep.

Every repetition is bounded (statements per block, operands, arguments,
trailers), so a small model that repeats itself must stop and close its
answer. The rule names are prefixed `py-`.
"""

from __future__ import annotations

import ast
import io
import json
import keyword
import tokenize

_BUILTINS = [
    *["abs", "all", "any", "bool", "dict", "enumerate", "filter", "frozenset", "int"],
    *["isinstance", "len", "list", "map", "max", "min", "range", "reversed", "set"],
    *["sorted", "str", "sum", "tuple", "zip"],
    *("key", "reverse", "default"),  # keyword argument names
]
MAX_STRING_LITERAL = 40  # longer literals of the file are not offered (they are docstrings)
_LEVELS = 3  # expression nesting levels
_BLOCK_CAPS = (10, 5, 3)  # statements per block: the body, then each nested level
BODY_STATEMENTS = _BLOCK_CAPS[0]  # at most this many statements in a function body
_OPS = ["+", "-", "*", "/", "//", "%", "==", "!=", "<", "<=", ">", ">=", "and", "or"]
_OPS += ["in", "is", "not in", "is not"]


# a short string without spaces (so no placeholder phrase), or a single space
_FREE_STRINGS = r'"\" \"" | "\"" [a-zA-Z0-9_.,:;!?-]{0,24} "\""'


def _lit(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def lexicon(text: str) -> tuple[list[str], list[str]]:
    """The names and short one-line string literals of a Python source `text`."""
    names: set[str] = set(_BUILTINS)
    strings: set[str] = set()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.NAME and not keyword.iskeyword(tok.string):
                names.add(tok.string)
            elif tok.type == tokenize.STRING and _plain_string(tok.string):
                strings.add(tok.string)
    except (tokenize.TokenError, SyntaxError):
        pass  # a file that does not tokenize offers the names found so far
    names -= set(keyword.softkwlist) - {"_"}  # `match`, `case`, `type` read as statements
    return sorted(names), sorted(strings)


def _plain_string(literal: str) -> bool:
    if "\n" in literal or len(literal) > MAX_STRING_LITERAL:
        return False
    try:
        return isinstance(ast.literal_eval(literal), str)
    except (ValueError, SyntaxError):
        return False


def expression_rules(names: list[str], strings: list[str]) -> list[str]:
    """The shared rules `py-expr0` .. `py-expr2`, `py-list2`, `py-name` and friends."""
    rules = [
        "py-name ::= " + " | ".join(_lit(n) for n in names),
        "py-str ::= " + " | ".join([*(_lit(s) for s in strings), _FREE_STRINGS]),
        'py-num ::= "0" | [1-9] [0-9]{0,5}',
        'py-const ::= "True" | "False" | "None"',
        "py-op ::= " + " | ".join(_lit(f" {op} ") for op in _OPS),
        'py-ftarget ::= py-name | py-name ", " py-name',
    ]
    for k in range(_LEVELS):
        atom = ["py-name", "py-str", "py-const"]
        trail = ['"." py-name']
        if k > 0:
            j = k - 1
            atom += [
                f'"(" py-list{j}? ")"',
                f'"[" py-list{j}? "]"',
                f'"[" py-expr{j} " for " py-ftarget " in " py-expr{j} (" if " py-expr{j})? "]"',
                f'"{{" py-dict{j}? "}}"',
                f'"{{" py-list{j} "}}"',
            ]
            trail += [f'"(" py-args{j}? ")"', f'"[" py-slice{j} "]"']
            rules += [
                f'py-pair{j} ::= py-expr{j} ": " py-expr{j}',
                f'py-dict{j} ::= py-pair{j} (", " py-pair{j}){{0,2}}',
                f'py-slice{j} ::= py-expr{j} | py-expr{j}? ":" py-expr{j}?',
                f'py-kw{j} ::= py-name "=" (py-expr{j} | "lambda " py-ftarget ": " py-expr{j})',
                f'py-kws{j} ::= py-kw{j} (", " py-kw{j}){{0,2}}',
                f'py-args{j} ::= py-list{j} (", " py-kws{j})? | py-kws{j}',
            ]
        rules += [
            f"py-atom{k} ::= " + " | ".join(atom),
            f"py-trail{k} ::= " + " | ".join(trail),
            # a number takes no trailer: `1.real` does not parse
            f'py-operand{k} ::= "-"? (py-num | py-atom{k} py-trail{k}{{0,3}})',
            f'py-expr{k} ::= "not "? py-operand{k} (py-op py-operand{k}){{0,3}}',
            f'py-list{k} ::= py-expr{k} (", " py-expr{k}){{0,3}}',
        ]
    top = _LEVELS - 1
    rules += [
        f'py-target ::= py-name ("." py-name | "[" py-expr{top - 1} "]"){{0,2}} '
        '| py-name ", " py-name (", " py-name)?',
        'py-aug ::= " += " | " -= " | " *= " | " /= " | " //= " | " %= "',
        f'py-simple ::= "return" (" " py-list{top})? | "pass" | py-target " = " py-list{top} '
        f"| py-name py-aug py-expr{top} | py-expr{top}",
    ]
    return rules


class StatementGrammar:
    """Rules for blocks of statements at given indentations, built on demand."""

    def __init__(self, names: list[str], strings: list[str]) -> None:
        self.rules = expression_rules(names, strings)
        self._made: set[str] = set()

    def block(self, indent: int, in_loop: bool = False, level: int = 0) -> str:
        """The name of a rule for 1..cap statements, each line indented `indent` spaces."""
        name = f"py-block-{indent}-{int(in_loop)}-{level}"
        if name in self._made:
            return name
        self._made.add(name)
        pad = _lit(" " * indent) + " " if indent else ""
        loop_only = ' | "break" | "continue"' if in_loop else ""
        simple = f'{pad}(py-simple{loop_only}) "\\n"'
        alternatives = [simple]
        if level + 1 < len(_BLOCK_CAPS):
            inner = self.block(indent + 4, in_loop, level + 1)
            loop_inner = self.block(indent + 4, True, level + 1)
            top = _LEVELS - 1
            alternatives += [
                f'{pad}"if " py-expr{top} ":\\n" {inner} '
                f'({pad}"elif " py-expr{top} ":\\n" {inner}){{0,2}} ({pad}"else:\\n" {inner})?',
                f'{pad}"for " py-ftarget " in " py-expr{top} ":\\n" {loop_inner}',
            ]
        self.rules.append(f"{name}-stmt ::= " + " | ".join(alternatives))
        self.rules.append(f"{name} ::= {name}-stmt{{1,{_BLOCK_CAPS[level]}}}")
        return name
