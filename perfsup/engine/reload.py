"""Editing the run's config file while it runs.

A thread watches the file (watchfiles; editors that save by renaming are
covered by watching its folder). Keys that can change live (the goal, the
hints, the budgets with their rate limits) become commands in the queue,
exactly as if a person had typed `perfsup ctl steer/budgets`, so they are
applied, recorded and answered the same way. Any other changed key is
refused with an event naming it: the run's criteria do not change under it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import watchfiles

from perfsup.config import Config, ConfigError, load_config
from perfsup.store import Store
from perfsup.store.commands import enqueue_command
from perfsup.store.models import CommandKind, EventKind
from perfsup.store.tree import record_event

LIVE_TABLES = ("budgets",)
LIVE_KEYS = ("target.goal", "target.hints")


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def live_changes(old: Config, new: Config) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    """The commands that apply the live changes, and the changed keys refused."""
    before = flatten(old.model_dump(mode="json"))
    after = flatten(new.model_dump(mode="json"))
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    commands: list[tuple[str, dict[str, Any]]] = []
    budgets: dict[str, Any] = {}
    refused = []
    for key in changed:
        table, _, name = key.partition(".")
        if table in LIVE_TABLES:
            budgets[name] = after.get(key)
        elif key == "target.goal":
            commands.append((CommandKind.STEER, {"goal": new.target.goal}))
        elif key == "target.hints":
            for hint in new.target.hints:
                if hint not in old.target.hints:
                    commands.append((CommandKind.STEER, {"hint": hint}))
        else:
            refused.append(key)
    if budgets:
        commands.append((CommandKind.BUDGETS, budgets))
    return commands, refused


class ConfigWatcher:
    """Turns edits of the config file into commands, or refusals."""

    def __init__(
        self,
        path: Path,
        config: Config,
        store: Store,
        run_id: Callable[[], int | None],
        report: Callable[[str], None] = print,
    ) -> None:
        self.path = path.resolve()
        self.current = config
        self.store = store
        self.run_id = run_id
        self.report = report
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._watch, name="perfsup-config", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _watch(self) -> None:
        def ours(_change: watchfiles.Change, path: str) -> bool:
            return Path(path).resolve() == self.path

        for _ in watchfiles.watch(
            self.path.parent,
            watch_filter=ours,
            debounce=200,
            step=50,
            stop_event=self._stop,
            rust_timeout=500,
            recursive=False,
            raise_interrupt=False,
        ):
            try:
                self.changed()
            except Exception as exc:  # the watcher must not die of one bad edit
                self.report(f"config: {type(exc).__name__}: {exc}")

    def changed(self) -> None:
        """Read the file again and queue what may change live."""
        run_id = self.run_id()
        try:
            new = load_config(self.path)
        except ConfigError as exc:
            self._event(run_id, f"config not reloaded: {exc}")
            return
        commands, refused = live_changes(self.current, new)
        with self.store.session() as s:
            for kind, args in commands:
                enqueue_command(s, kind, args)
        if refused:
            self._event(
                run_id,
                "config keys that cannot change while the run goes were not applied: "
                + ", ".join(refused)
                + " (they apply to a new run)",
            )
        self.current = new

    def _event(self, run_id: int | None, message: str) -> None:
        with self.store.session() as s:
            record_event(s, EventKind.CONFIG_REFUSED, message, run_id=run_id, actor="human")
        self.report(message)
