"""`perfsup serve`: the same TUI in a web browser (textual-serve).

Each browser tab gets its own `perfsup attach` process, which reads the store
and queues commands like the TUI in a terminal. The server listens on
127.0.0.1 unless `--host` says otherwise; on any other address every page
and the terminal's websocket need the token printed in the URL (kept in a
cookie after the first page), so that only whoever was given the URL can
steer the run.
"""

from __future__ import annotations

import argparse
import secrets
import shlex
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
DEFAULT_PORT = 8421
COOKIE = "perfsup_token"


class ServeError(Exception):
    """A one-line reason `perfsup serve` cannot start (exit status `code`)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def add_serve_parser(sub: Any) -> None:
    p = sub.add_parser("serve", help="the TUI in a web browser (local only unless --host)")
    p.add_argument(
        "-c", "--config", default="perfsup.toml", help="config file (default: ./perfsup.toml)"
    )
    p.add_argument("--run-dir", help="run directory (default: from the config)")
    p.add_argument("--theme", help="TUI theme (default: [tui] theme in the config)")
    p.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1 only)"
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"(default: {DEFAULT_PORT})")
    p.add_argument(
        "--public-url", default=None, help="the URL browsers reach the server at, if not host:port"
    )


def is_local(host: str) -> bool:
    return host in LOCAL_HOSTS


def attach_command(args: argparse.Namespace) -> str:
    """The command each browser session runs: `perfsup attach` on the same run."""
    argv = [sys.executable, "-m", "perfsup", "attach", "-c", str(Path(args.config).resolve())]
    if args.run_dir:
        argv += ["--run-dir", str(Path(args.run_dir).resolve())]
    if args.theme:
        argv += ["--theme", args.theme]
    return shlex.join(argv)


def page_url(host: str, port: int, public_url: str | None, token: str | None) -> str:
    base = public_url or f"http://{_reachable(host)}:{port}"
    return base.rstrip("/") + "/" + (f"?token={token}" if token else "")


def _reachable(host: str) -> str:
    if host in WILDCARD_HOSTS:
        return socket.gethostname()  # a wildcard is no address a browser can use
    return f"[{host}]" if ":" in host else host


def cmd_serve(args: argparse.Namespace) -> int:
    if not 0 < args.port < 65536:
        raise ServeError(f"--port {args.port}: expected a port number from 1 to 65535")
    config = Path(args.config)
    if not config.is_file() and not args.run_dir:
        raise ServeError(f"{config}: no such config file (give -c or --run-dir)")
    token = None if is_local(args.host) else secrets.token_urlsafe(24)
    url = page_url(args.host, args.port, args.public_url, token)
    server = guarded_server(
        attach_command(args),
        host=args.host,
        port=args.port,
        title="perfsup",
        public_url=url.split("/?")[0].rstrip("/"),
        token=token,
    )
    print(f"perfsup: serving the TUI at {url}  (Ctrl-C stops it; the engine keeps running)")
    server.serve()
    return 0


def _guarded_server_class() -> type:
    from aiohttp import web
    from textual_serve.server import Server

    Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

    class _GuardedServer(Server):
        """textual-serve with a token on every page and websocket (when one is set)."""

        def __init__(self, command: str, *, token: str | None, **kwargs: Any) -> None:
            super().__init__(command, **kwargs)
            self.token = token

        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            if self.token is not None:
                app.middlewares.append(self._check_token)
            return app

        @web.middleware
        async def _check_token(self, request: web.Request, handler: Handler) -> web.StreamResponse:
            given = request.query.get("token") or request.cookies.get(COOKIE) or ""
            if not secrets.compare_digest(given, self.token or ""):
                raise web.HTTPForbidden(text="perfsup serve: this URL needs its token\n")
            response = await handler(request)
            if "token" in request.query and isinstance(response, web.Response):
                response.set_cookie(COOKIE, given, httponly=True, samesite="Strict")
            return response

    return _GuardedServer


def guarded_server(command: str, *, token: str | None, **kwargs: Any) -> Any:
    """The server class is made on first use: aiohttp loads only for `perfsup serve`."""
    return _guarded_server_class()(command, token=token, **kwargs)
