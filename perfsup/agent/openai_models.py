"""What an OpenAI-compatible server says about its models (`GET /models`).

The preflight asks it before any token is spent: the server answers, the key
is accepted, and the configured model is listed (or, with no name
configured, exactly one model is, and that one is used). Every failure is a
`ModelUnavailable` whose one line says what to fix.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from perfsup.agent.backend import ModelUnavailable
from perfsup.agent.openai_wire import error_text

# "qwen2.5-coder-7b-instruct", "gemma-3-270m-q4_k_m.gguf", "Llama-3.1-8B": a size
# in a model's name, between separators (not "q4_k_m", not "gemma-3").
_SIZE_IN_NAME = re.compile(r"(?:^|[-_:/ .])(\d+(?:\.\d+)?)([bBmM])(?=$|[-_:/ .])")


class ServerModels:
    """`GET {base_url}/models` through the backend's client."""

    def __init__(self, client: httpx.Client, base_url: str) -> None:
        self.client = client
        self.base_url = base_url

    def entries(self) -> list[dict[str, Any]]:
        """The listed models; `ModelUnavailable` naming what went wrong."""
        where = f"the server at {self.base_url}"
        try:
            response = self.client.get("models")
        except httpx.HTTPError as exc:
            raise ModelUnavailable(
                f"{where} does not answer ({_short(exc)}); start it (llama-server, "
                "LM Studio, vLLM ...) or fix model.base_url"
            ) from None
        code = response.status_code
        if code in (401, 403):
            raise ModelUnavailable(
                f"{where} refused the API key (HTTP {code}: {error_text(response)}); "
                "set model.api_key_env to the variable that holds the key, and export it"
            )
        if code == 404:
            raise ModelUnavailable(
                f"{where} has no /models (HTTP 404); model.base_url should be the API root, "
                "which often ends in /v1"
            )
        if code != 200:
            raise ModelUnavailable(
                f"{where} answered /models with HTTP {code}: {error_text(response)}"
            )
        try:
            data = response.json().get("data")
        except (ValueError, AttributeError):
            data = None
        if not isinstance(data, list):
            raise ModelUnavailable(
                f"{where} answered /models with something that is not an OpenAI model list; "
                "is model.base_url the API root (often ending in /v1)?"
            )
        return [entry for entry in data if isinstance(entry, dict) and entry.get("id")]

    def listed(self) -> list[str]:
        return [str(entry["id"]) for entry in self.entries()]

    def listed_or_empty(self) -> list[str]:
        """The listed names, or [] when the server cannot say."""
        try:
            return self.listed()
        except ModelUnavailable:
            return []

    def require(self, model: str) -> None:
        """`ModelUnavailable` unless `model` is listed."""
        listed = self.listed()
        if model not in listed:
            have = ", ".join(listed) or "none"
            raise ModelUnavailable(
                f"the server at {self.base_url} does not list model {model!r} "
                f"(it lists: {have}); load it there or set model.name to one it lists"
            )

    def only_model(self) -> str:
        """The one model listed (for a config that names none)."""
        listed = self.listed()
        if len(listed) != 1:
            have = ", ".join(listed) or "none"
            raise ModelUnavailable(
                f"the server at {self.base_url} lists {len(listed)} models ({have}); "
                "set model.name to the one to use"
            )
        return listed[0]

    def entry(self, model: str) -> dict[str, Any]:
        """The listed entry of `model`, or {} when unknown."""
        try:
            entries = self.entries()
        except ModelUnavailable:
            return {}
        return next((e for e in entries if e.get("id") == model), {})


def model_size(entry: dict[str, Any], name: str) -> float | None:
    """Parameters of a model: llama.cpp's `meta.n_params` in its /models entry, else
    a size written in its name ("7b", "270M"), else None."""
    meta = entry.get("meta")
    count = meta.get("n_params") if isinstance(meta, dict) else None
    if isinstance(count, int | float) and count > 0:
        return float(count)
    base = name.replace("\\", "/").rsplit("/", 1)[-1]  # a path's folders say nothing
    match = _SIZE_IN_NAME.search(base)
    if match is None:
        return None
    scale = 1e9 if match.group(2).lower() == "b" else 1e6
    return float(match.group(1)) * scale


def server_root(base_url: str) -> str:
    """The server's root, where non-OpenAI routes live: base_url without its /v1."""
    return re.sub(r"/v1/?$", "", base_url.rstrip("/"))


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
