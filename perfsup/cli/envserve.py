"""`perfsup env serve`: perfsup as an OpenEnv environment server (the `env` extra)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

__all__ = ["HANDLERS", "add_env_parser"]


def add_env_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("env", help="serve perfsup as a reinforcement-learning environment")
    verbs = p.add_subparsers(dest="env_command", required=True, metavar="VERB")
    s = verbs.add_parser("serve", help="serve the tasks of a TOML file over HTTP and WebSocket")
    s.add_argument("--tasks", required=True, help="TOML file of [[task]] entries naming git URLs")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8000, help="port (0: any free port)")
    s.add_argument("--workdir", help="folder for clones, worktrees and logs (default: temporary)")
    s.add_argument("--sessions", type=int, default=4, help="episodes served at once (default 4)")


def cmd_env(args: argparse.Namespace) -> int:
    try:
        from perfsup.env.server import serve
        from perfsup.env.tasks import TaskError
    except ImportError as exc:
        print(
            f"perfsup: `perfsup env` needs the env extra: pip install 'perfsup[env]' ({exc})",
            file=sys.stderr,
        )
        return 2
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="perfsup-env-"))
    try:
        serve(Path(args.tasks), workdir, args.host, args.port, max(1, args.sessions))
    except TaskError as exc:
        print(f"perfsup: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"perfsup: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


HANDLERS = {"env": cmd_env}
