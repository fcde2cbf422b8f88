"""Theme files: `themes/*.toml` hold the keyword arguments of a Textual Theme.

The wheel ships them as `perfsup/_themes`; a source checkout has them at the
top level (the same search as the store's migrations folder).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from textual.theme import Theme

THEME_KEYS = frozenset(
    {
        "name", "primary", "secondary", "warning", "error", "success", "accent",
        "foreground", "background", "surface", "panel", "boost", "dark", "luminosity_spread",
        "text_alpha", "variables",
    }
)  # fmt: skip


class ThemeError(ValueError):
    """A theme file cannot be read, or the configured theme does not exist."""


def themes_dir() -> Path | None:
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "_themes", package.parent / "themes"):
        if candidate.is_dir():
            return candidate
    return None


def load_theme_file(path: Path) -> Theme:
    try:
        raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ThemeError(f"{path}: cannot read the theme file: {exc}") from None
    unknown = sorted(set(raw) - THEME_KEYS)
    if unknown:
        expected = ", ".join(sorted(THEME_KEYS))
        raise ThemeError(f"{path}: unknown theme key {unknown[0]!r} (expected one of {expected})")
    if "name" not in raw or "primary" not in raw:
        raise ThemeError(f"{path}: a theme needs at least 'name' and 'primary'")
    return Theme(**raw)


def bundled_themes() -> list[Theme]:
    """Every theme file shipped with perfsup, sorted by name."""
    folder = themes_dir()
    if folder is None:
        return []
    return [load_theme_file(path) for path in sorted(folder.glob("*.toml"))]
