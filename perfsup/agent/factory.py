"""Make the model backend a config asks for.

The CLI calls `make_backend`; a backend whose library is missing or whose
files cannot be read raises `BackendError` with a one-line message naming
the key and what was expected.
"""

from __future__ import annotations

from pathlib import Path

from perfsup.agent.backend import ModelBackend
from perfsup.config import Config


class BackendError(ValueError):
    """The configured backend cannot be made; the message says why and what to do."""


def make_backend(config: Config, log_dir: Path | None = None) -> ModelBackend:
    """The backend named by model.backend, set up from the [model] table.

    `log_dir` receives what a backend's own process writes (llama.cpp's stderr).
    """
    model = config.model
    if model.backend == "scripted":
        from perfsup.agent.scripted import ScriptedBackend

        assert model.script is not None  # the config schema requires it
        try:
            return ScriptedBackend(Path(model.script))
        except ValueError as exc:
            raise BackendError(str(exc)) from None
    if model.backend == "ollama":
        from perfsup.agent.ollama_backend import OllamaBackend

        return OllamaBackend(
            model=model.name,
            host=model.host,
            context_tokens=model.context_tokens,
            max_answer_tokens=model.max_answer_tokens,
            temperature=model.temperature,
            keep_alive=model.keep_alive,
        )
    if model.backend == "llama":
        from perfsup.agent.llama_backend import LlamaBackend, llama_missing

        missing = llama_missing()
        if missing:
            raise BackendError(
                f"model.backend = 'llama' needs llama-cpp-python ({missing}); install it with "
                "`pip install 'perfsup[llama]'`"
            )
        assert model.gguf_path is not None  # the config schema requires it
        return LlamaBackend(
            gguf_path=Path(model.gguf_path),
            context_tokens=model.context_tokens,
            max_answer_tokens=model.max_answer_tokens,
            temperature=model.temperature,
            threads=model.threads,
            log_dir=log_dir,
        )
    if model.backend == "openai":
        from perfsup.agent.openai_backend import OpenAIBackend, api_key_from

        assert model.base_url is not None  # the config schema requires it
        try:
            api_key = api_key_from(model.api_key_env)
        except ValueError as exc:
            raise BackendError(str(exc)) from None
        return OpenAIBackend(
            base_url=model.base_url,
            model=model.name,
            max_answer_tokens=model.max_answer_tokens,
            temperature=model.temperature,
            context_tokens=model.context_tokens,
            api_key=api_key,
        )
    raise BackendError(
        f"model.backend = {model.backend!r} is not known "
        "(expected 'ollama', 'llama', 'openai' or 'scripted')"
    )
