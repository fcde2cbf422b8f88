"""Text pieces of a generated perfsup.toml: TOML strings, shell words, comments."""

from __future__ import annotations

import re


def shell_quote(text: str) -> str:
    """`text` quoted for a POSIX shell where it needs it."""
    return (
        text if re.fullmatch(r"[A-Za-z0-9_./\-]+", text) else "'" + text.replace("'", "'\\''") + "'"
    )


def toml_str(text: str) -> str:
    """A TOML basic string for `text`."""
    out = ['"']
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def toml_value(value: str | list[str]) -> str:
    if isinstance(value, str):
        return toml_str(value)
    return "[" + ", ".join(toml_str(v) for v in value) + "]"


def comments(lines: list[str]) -> list[str]:
    return [f"# {line}" for line in lines]
