"""Waiting on conditions, never on time: every test that waits polls here.

A deadline only catches a hang; it is generous on purpose, so a loaded machine
makes a test slower, never red.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 30.0
POLL_S = 0.05


def wait_until(
    check: Callable[[], T],
    *,
    what: str,
    timeout: float = DEFAULT_TIMEOUT_S,
    interval: float = POLL_S,
    detail: Callable[[], object] | None = None,
) -> T:
    """Poll `check()` until it returns something truthy and return that.

    Raises AssertionError naming `what` (and `detail()`, the state seen last,
    when given) if the deadline passes first."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    raise AssertionError(_timed_out(what, timeout, detail))


def holds_throughout(
    check: Callable[[], object],
    *,
    what: str,
    seconds: float = 0.5,
    interval: float = POLL_S,
) -> None:
    """Assert that `check()` stays truthy for a whole observation window.

    For "nothing happens" assertions (paused means paused): the condition is
    checked all along, not once after a sleep."""
    end = time.monotonic() + seconds
    while True:
        assert check(), f"{what} stopped holding"
        if time.monotonic() >= end:
            return
        time.sleep(interval)


def returns_in_time(call: Callable[[], T], *, what: str, timeout: float = DEFAULT_TIMEOUT_S) -> T:
    """Run `call()` in a thread and return its result; a call that hangs past
    the (generous) deadline fails the test naming `what` instead of blocking it."""
    box: list[Any] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            box.append(call())
        except BaseException as exc:  # re-raised in the test's thread below
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    wait_until(lambda: not thread.is_alive(), what=f"{what} to return", timeout=timeout)
    if errors:
        raise errors[0]
    result: T = box[0]
    return result


async def pilot_until(
    pilot: Any,
    check: Callable[[], object],
    *,
    what: str = "the app to reach the expected state",
    timeout: float = 10.0,
    detail: Callable[[], object] | None = None,
) -> None:
    """Let a Textual app run until `check()` holds, then return.

    Each round lets the app process what is pending (`pilot.pause()`) and gives
    its workers a moment; the deadline only catches a hang."""
    deadline = time.monotonic() + timeout
    while True:
        await pilot.pause()
        if check():
            return
        if time.monotonic() >= deadline:
            break
        await asyncio.sleep(POLL_S)
    raise AssertionError(_timed_out(what, timeout, detail))


def _timed_out(what: str, timeout: float, detail: Callable[[], object] | None) -> str:
    message = f"timed out after {timeout:g} s waiting for {what}"
    if detail is not None:
        message += f"; last seen:\n{detail()}"
    return message
