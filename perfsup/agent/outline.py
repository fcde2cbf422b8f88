"""What the slicer knows of a source file: its header lines and its definitions."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Unit:
    """A top-level definition (or a method) of a source file, by its lines (1-based)."""

    name: str  # `name`, or `Class.name` for a method
    start: int  # first line, decorators included
    end: int  # last line
    signature: str  # the def / func line(s), without the body
    doc: str = ""  # the docstring (Python) or the comment above (Go)
    container: str = ""  # the class line of a method
    calls: frozenset[str] = field(default_factory=frozenset)  # names it calls


@dataclass(frozen=True)
class Outline:
    """What the slicer knows of one file."""

    header: list[tuple[int, int]]  # line spans of imports (and package clause)
    units: list[Unit]
