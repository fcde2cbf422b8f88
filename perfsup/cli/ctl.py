"""`perfsup ctl`: send a command to the running engine and wait for its answer.

Everything the TUI can do to a running engine can be scripted this way. The
command is a row in the store's commands table; the engine settles it within
a second, and this prints what happened (exit 0) or why it was refused (1).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from perfsup.store import Store
from perfsup.store.commands import enqueue_command
from perfsup.store.models import Command, CommandKind, CommandStatus

WAIT_S = 5.0


class CtlError(Exception):
    """A one-line reason `perfsup ctl` cannot send or did not get an answer."""


def add_ctl_parser(sub: Any, with_config: Any) -> None:
    """`perfsup ctl KIND ...`: one sub-command per command kind."""
    ctl = sub.add_parser("ctl", help="send a command to the running engine")
    kinds = ctl.add_subparsers(dest="kind", required=True, metavar="KIND")
    for kind, text in (
        ("pause", "pause: the command in flight stops and runs again on resume"),
        ("resume", "resume after a pause"),
        ("abort", "abort the experiment in flight (node cancelled)"),
        ("stop", "stop the engine (the experiment in flight is cancelled)"),
    ):
        with_config(kinds.add_parser(kind, help=text))
    p = kinds.add_parser("prune", help="no more experiments below NODE; running ones abort")
    p.add_argument("node")
    with_config(p)
    p = kinds.add_parser("unprune", help="undo the last prune (or the prune of NODE)")
    p.add_argument("node", nargs="?", default=None)
    with_config(p)
    p = kinds.add_parser("priority", help="set NODE's priority (higher is expanded first)")
    p.add_argument("node")
    p.add_argument("priority", type=int)
    with_config(p)
    p = kinds.add_parser("promote", help="start a new run from kept NODE")
    p.add_argument("node")
    with_config(p)
    p = kinds.add_parser("steer", help="change the goal or add a hint for the next proposals")
    p.add_argument("--goal", default=None)
    p.add_argument("--hint", default=None)
    with_config(p)
    p = kinds.add_parser("budgets", help="change budgets, e.g. max_experiments=80")
    p.add_argument("settings", nargs="+", metavar="KEY=VALUE")
    with_config(p)


def command_args(args: argparse.Namespace) -> dict[str, Any]:
    """The JSON arguments of the command row, from the parsed command line."""
    kind = args.kind
    if kind in ("prune", "promote"):
        return {"node": args.node}
    if kind == "unprune":
        return {"node": args.node} if args.node else {}
    if kind == "priority":
        return {"node": args.node, "priority": args.priority}
    if kind == "steer":
        return {k: v for k, v in (("goal", args.goal), ("hint", args.hint)) if v}
    if kind == "budgets":
        settings: dict[str, Any] = {}
        for item in args.settings:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise CtlError(f"{item!r} is not KEY=VALUE (for example max_experiments=80)")
            settings[key.strip()] = value.strip()
        return settings
    return {}


def send(store: Store, kind: str, args: dict[str, Any], wait_s: float = WAIT_S) -> Command:
    """Enqueue and wait until the engine settles the command (or raise CtlError)."""
    with store.session() as s:
        command_id = enqueue_command(s, CommandKind(kind), args).id
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        with store.session() as s:
            command = s.get(Command, command_id)
            if command is not None and command.status != CommandStatus.PENDING:
                return command
        time.sleep(0.05)
    raise CtlError(
        f"the engine did not answer within {wait_s:g} s; command {command_id} stays queued"
    )
