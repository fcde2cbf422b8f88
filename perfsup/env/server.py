"""`perfsup env serve`: the environment over HTTP and WebSocket (OpenEnv's server).

The socket is bound before the server starts, so `--port 0` works: the line
`perfsup env: serving TASKS on http://HOST:PORT` says where, and a client or
a test waits for it.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from openenv.core.env_server.http_server import create_fastapi_app

from perfsup.env.environment import PerfEnvironment
from perfsup.env.episode import TaskHub
from perfsup.env.models import PerfAction, PerfObservation
from perfsup.env.tasks import load_tasks

__all__ = ["make_app", "serve"]


def make_app(tasks_file: Path, workdir: Path, max_sessions: int = 4) -> FastAPI:
    """The FastAPI app serving the tasks of `tasks_file` (TaskError when unusable)."""
    hub = TaskHub(load_tasks(tasks_file), workdir)
    return create_fastapi_app(
        lambda: PerfEnvironment(hub),
        PerfAction,
        PerfObservation,
        max_concurrent_envs=max_sessions,
    )


def serve(tasks_file: Path, workdir: Path, host: str, port: int, max_sessions: int) -> None:
    """Serve until interrupted."""
    app = make_app(tasks_file, workdir, max_sessions)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)  # connections wait in the backlog until the server accepts them
    bound = sock.getsockname()[1]
    names = ", ".join(sorted(load_tasks(tasks_file)))
    print(f"perfsup env: serving {names} on http://{host}:{bound}", flush=True)
    config = uvicorn.Config(app, log_level="warning", ws_max_size=64 * 1024 * 1024)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
        sys.stdout.flush()
