"""A real headless Chromium, driven over the Chrome DevTools Protocol.

Chromium from the distribution, started with `--remote-debugging-port` on
127.0.0.1; the protocol is JSON over one websocket (the `websockets` client),
so no browser download and no driver binary are needed. Only what the tests
use: open a page, watch its websocket frames, type keys, take a screenshot.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

from tests.helpers.wait import wait_until


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Page:
    """One browser tab: commands by name, and the events seen so far."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self.ids)
        self.ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=30))
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)

    def pump(self) -> None:
        """Take in the events that arrived meanwhile (without waiting)."""
        while True:
            try:
                self.events.append(json.loads(self.ws.recv(timeout=0.05)))
            except TimeoutError:
                return

    def received_text(self) -> str:
        """Everything the page's websockets received, decoded as text (the terminal's bytes)."""
        self.pump()
        chunks = []
        for event in self.events:
            if event.get("method") == "Network.webSocketFrameReceived":
                frame = event["params"]["response"]
                data = frame["payloadData"]
                raw = base64.b64decode(data) if frame.get("opcode") == 2 else data.encode()
                chunks.append(raw.decode("utf-8", errors="replace"))
        return "".join(chunks)

    def type_key(self, key: str) -> None:
        """One printable key, as a person presses it (keydown with its text, keyup)."""
        code = f"Key{key.upper()}" if key.isalpha() else ("Space" if key == " " else "")
        vk = ord(key.upper())
        self.call("Input.dispatchKeyEvent", type="keyDown", key=key, text=key, code=code,
                  windowsVirtualKeyCode=vk)  # fmt: skip
        self.call("Input.dispatchKeyEvent", type="keyUp", key=key, code=code,
                  windowsVirtualKeyCode=vk)  # fmt: skip

    def press(self, key: str, vk: int) -> None:
        """A key without text (ArrowDown, Enter...), by its DOM name and key code."""
        for kind in ("rawKeyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=kind, key=key, code=key,
                      windowsVirtualKeyCode=vk)  # fmt: skip

    def screenshot(self, path: Path) -> Path:
        shot = self.call("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


@contextmanager
def headless_page(profile: Path, width: int = 1400, height: int = 900) -> Iterator[Page]:
    """A headless Chromium with one tab, its DevTools on 127.0.0.1 only."""
    binary = chromium()
    assert binary is not None, "chromium is not installed"
    port = free_port()
    argv = [
        binary, "--headless=new", f"--remote-debugging-port={port}",
        "--remote-debugging-address=127.0.0.1", f"--user-data-dir={profile}",
        f"--window-size={width},{height}", "--no-first-run", "--no-default-browser-check",
        "--disable-gpu", "--disable-extensions", "--disable-background-networking",
        "--hide-scrollbars", "about:blank",
    ]  # fmt: skip
    if os.geteuid() == 0:
        argv.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:

        def page_target() -> str | None:
            try:
                targets = httpx.get(f"http://127.0.0.1:{port}/json", timeout=2).json()
            except (httpx.HTTPError, ValueError):
                return None
            pages = [t for t in targets if t.get("type") == "page"]
            return pages[0]["webSocketDebuggerUrl"] if pages else None

        url = wait_until(page_target, what="Chromium's DevTools", timeout=60, interval=0.2)
        with connect(url, max_size=None, open_timeout=30) as ws:
            page = Page(ws)
            page.call("Network.enable")
            page.call("Page.enable")
            yield page
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_http(url: str, timeout: float = 60) -> httpx.Response:
    """The first answer of a server that is starting (any status)."""

    def get() -> httpx.Response | None:
        try:
            return httpx.get(url, timeout=2)
        except httpx.HTTPError:
            return None

    return wait_until(get, what=f"an answer from {url}", timeout=timeout, interval=0.2)
