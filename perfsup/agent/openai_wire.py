"""Reading what an OpenAI-compatible server sends: stream events, token counts, errors.

Everything here is untrusted input from the network: each reader checks the
shape it expects and turns anything else into a clear failure or nothing.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from perfsup.agent.backend import CallFailed


def stream_chunk(data: str, parts: list[str]) -> dict[str, Any]:
    """One event's JSON object; `CallFailed` (with the answer so far, `parts`) for
    anything else or an error object."""
    try:
        chunk = json.loads(data)
    except json.JSONDecodeError:
        chunk = None
    if not isinstance(chunk, dict):
        raise CallFailed(
            f"the server sent an event that is not a JSON object: {data[:200]!r}", "".join(parts)
        )
    if "error" in chunk:
        error = chunk["error"]
        message = error.get("message") if isinstance(error, dict) else error
        raise CallFailed(
            f"the server failed during the answer: {str(message)[:300]}", "".join(parts)
        )
    return chunk


def count_of(table: Any, key: str) -> int | None:
    """A token count the server reported under `key`, if it is one (a whole number >= 0)."""
    value = table.get(key) if isinstance(table, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def finish_reason(chunk: dict[str, Any]) -> str | None:
    """Why the answer ended ("stop", "length"), in the chunk that says so."""
    choices = chunk.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    reason = choices[0].get("finish_reason")
    return reason if isinstance(reason, str) else None


def delta_text(chunk: dict[str, Any]) -> str:
    """The answer text one chunk adds (the first choice's delta content)."""
    choices = chunk.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return ""
    delta = choices[0].get("delta")
    content = delta.get("content") if isinstance(delta, dict) else None
    return content if isinstance(content, str) else ""


def token_count(response: httpx.Response) -> int | None:
    """`{"count": n}` or `{"tokens": [...]}`, as the tokenize endpoints answer."""
    try:
        answer = response.json()
    except ValueError:
        return None
    if not isinstance(answer, dict):
        return None
    if isinstance(answer.get("count"), int):
        return int(answer["count"])
    tokens = answer.get("tokens")
    return len(tokens) if isinstance(tokens, list) else None


def error_text(response: httpx.Response) -> str:
    """The server's own words about an error, in one short line."""
    try:
        body = response.json()
    except ValueError:
        body = None
    said: Any = None
    if isinstance(body, dict):
        error = body.get("error")
        said = error.get("message") if isinstance(error, dict) else error
        said = said or body.get("detail") or body.get("message")
    text = str(said) if said else (response.text or response.reason_phrase)
    return " ".join(text.split())[:200]
