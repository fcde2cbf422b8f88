"""Small pieces of `perfsup run`: the detached engine's arguments, a run
without a model (`--flags-only`), and closing a backend."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from perfsup.config import Config

__all__ = ["close_backend", "engine_argv", "flags_only"]


def engine_argv(args: argparse.Namespace, config_path: Path, root: Path) -> list[str]:
    """The arguments of the headless engine a foreground `perfsup run` starts."""
    argv = ["run", "--headless", "-c", str(config_path), "--run-dir", str(root)]
    argv.append("--preflight-done")  # the foreground passed it
    if args.seed is not None:
        argv += ["--seed", str(args.seed)]
    if args.flags_only:
        argv.append("--flags-only")
    return argv


def flags_only(config: Config) -> Config:
    """The config of a run whose experiments are the [flags] sets, with no model."""
    model = config.model.model_copy(update={"backend": "flags"})
    return config.model_copy(update={"model": model})


def close_backend(backend: Any) -> None:
    close = getattr(backend, "close", None)
    if callable(close):  # a llama.cpp child process ends with the run
        close()
