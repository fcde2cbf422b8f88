"""Every key of the TUI in one table: binding id, default key, action, help.

Users remap keys in the config (`[tui.keys] pause = "space"`) by binding id;
the help screen and the command palette are generated from this table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from textual.binding import Binding
from textual.keys import format_key

# The help screen's sections, in the order it shows them.
RUN, NODE, VIEW, APP = "The run", "The selected node", "What you see", "The app"
SECTIONS = (RUN, NODE, VIEW, APP)


@dataclass(frozen=True)
class Key:
    id: str
    key: str
    action: str
    description: str
    short: str  # the footer's label
    section: str = APP
    palette: bool = True  # also offered in the command palette


KEYS: tuple[Key, ...] = (
    Key("pause", "p", "pause_resume", "Pause or resume the engine", "Pause/resume", RUN),
    Key("abort", "a", "abort", "Abort the current experiment", "Abort", RUN),
    Key(
        "stop",
        "S",
        "stop_engine",
        "Stop the run now: the experiment in flight is cancelled (asks to confirm)",
        "Stop run",
        RUN,
    ),
    Key("steer", "s", "steer", "Steer: edit the goal or add a hint", "Steer", RUN),
    Key(
        "continue",
        "c",
        "continue_run",
        "Continue a finished run with more budget",
        "Continue",
        RUN,
    ),
    Key(
        "prune",
        "x",
        "prune",
        "Prune the selected branch: no new experiments below it (asks to confirm)",
        "Prune",
        NODE,
    ),
    Key("undo_prune", "u", "undo_prune", "Undo the last prune", "Undo prune", NODE),
    Key("priority_up", "plus", "priority(1)", "Raise the selected node's priority", "Prio+", NODE),
    Key(
        "priority_down",
        "minus",
        "priority(-1)",
        "Lower the selected node's priority",
        "Prio-",
        NODE,
    ),
    Key(
        "promote", "P", "promote", "Promote the selected node (a new run from it)", "Promote", NODE
    ),
    Key("export", "e", "export", "Export the selected node's patch", "Export", NODE),
    Key("log", "l", "full_log", "Open the full log of the current tab", "Full log", VIEW),
    Key("filter", "f", "cycle_filter", "Filter the tree: all, kept only, failed", "Filter", VIEW),
    Key("run", "r", "cycle_run", "Show all runs or one run", "Run", VIEW),
    Key("help", "question_mark", "help", "Show every key", "Help", APP, palette=False),
    Key("quit", "q", "quit", "Quit (the engine keeps running)", "Quit", APP, palette=False),
)
KEY_IDS = frozenset(k.id for k in KEYS)

# Moving around: Textual's own keys, which the help screen lists too.
NAVIGATION: tuple[tuple[str, str], ...] = (
    ("tab / shift+tab", "Move between panes: the tree, the tabs of the selected node"),
    ("left / right", "Switch tabs (Diff, Agent, Build, Checks, Bench, Perf) once they have focus"),
    ("up / down", "Move through the tree or scroll the focused pane"),
    ("space / enter", "Expand or collapse the node under the cursor"),
    ("ctrl+p", "Command palette: every control by name, and Screenshot (saved in the run folder)"),
    ("escape", "Close a dialog or the full log"),
)


class KeymapError(ValueError):
    """The config remaps a key id that does not exist."""


def bindings() -> list[Binding]:
    return [
        Binding(k.key, k.action, k.short, id=k.id, show=k.id in _FOOTER, tooltip=k.description)
        for k in KEYS
    ]


_FOOTER = frozenset({"pause", "abort", "prune", "steer", "export", "filter", "help", "quit"})


def human_key(key: str) -> str:
    """The key as a person types it: `?` for question_mark, `+` for plus, `ctrl+p`."""
    shown = []
    for one in key.split(","):
        *modifiers, name = one.strip().split("+")
        shown.append("+".join([*modifiers, name if len(name) == 1 else format_key(name)]))
    return " / ".join(shown)


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
