"""Every key of the TUI in one table: binding id, default key, action, help.

Users remap keys in the config (`[tui.keys] pause = "space"`) by binding id;
the help screen and the command palette are generated from this table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Key:
    id: str
    key: str
    action: str
    description: str
    short: str  # the footer's label
    palette: bool = True  # also offered in the command palette


KEYS: tuple[Key, ...] = (
    Key("pause", "p", "pause_resume", "Pause or resume the engine", "Pause/resume"),
    Key("abort", "a", "abort", "Abort the current experiment", "Abort"),
    Key("prune", "x", "prune", "Prune the selected branch", "Prune"),
    Key("priority_up", "plus", "priority(1)", "Raise the selected node's priority", "Prio+"),
    Key("priority_down", "minus", "priority(-1)", "Lower the selected node's priority", "Prio-"),
    Key("promote", "P", "promote", "Promote the selected node (a new run from it)", "Promote"),
    Key("steer", "s", "steer", "Steer: edit the goal or add a hint", "Steer"),
    Key("export", "e", "export", "Export the selected node's patch", "Export"),
    Key("stop", "S", "stop_engine", "Stop the engine after the current step", "Stop engine"),
    Key("log", "l", "full_log", "Open the full log of the current tab", "Full log"),
    Key("filter", "f", "cycle_filter", "Filter the tree: all, kept only, failed", "Filter"),
    Key("run", "r", "cycle_run", "Show all runs or one run", "Run"),
    Key("find", "slash", "find", "Search the tree (id, status, description, reason)", "Search"),
    Key("jump", "colon", "jump", "Jump to a node by its id (:1.3.2)", "Jump"),
    Key("reasons", "w", "toggle_reasons", "Show why each node ended, in the tree", "Why"),
    Key("help", "question_mark", "help", "Show every key", "Help", palette=False),
    Key("quit", "q", "quit", "Quit (the engine keeps running)", "Quit", palette=False),
)
KEY_IDS = frozenset(k.id for k in KEYS)


class KeymapError(ValueError):
    """The config remaps a key id that does not exist."""


def bindings() -> list[Binding]:
    return [
        Binding(k.key, k.action, k.short, id=k.id, show=k.id in _FOOTER, tooltip=k.description)
        for k in KEYS
    ]


_FOOTER = frozenset(
    {"pause", "abort", "prune", "steer", "export", "filter", "find", "help", "quit"}
)


def check_keymap(keys: Mapping[str, str]) -> dict[str, str]:
    """The config's `[tui.keys]`, validated against the known binding ids."""
    for key_id, key in keys.items():
        if key_id not in KEY_IDS:
            raise KeymapError(
                f"tui.keys: unknown binding id {key_id!r} "
                f"(expected one of {', '.join(sorted(KEY_IDS))})"
            )
        if not key.strip():
            raise KeymapError(f"tui.keys.{key_id}: empty key (expected a key like 'space' or 'p')")
    return dict(keys)


def key_for(key_id: str, keymap: Mapping[str, str]) -> str:
    return keymap.get(key_id) or next(k.key for k in KEYS if k.id == key_id)
