"""`perfsup run` wires the configured backend: Ollama through its real client."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.ollama_server import FakeModel, OllamaTestServer
from tests.test_engine_models import GOOD, MODEL, ollama_model, write_target

ROOT = Path(__file__).resolve().parents[1]


def perfsup(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "perfsup", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_run_headless_with_the_ollama_backend(tmp_path: Path) -> None:
    with OllamaTestServer() as server:
        server.state.models[MODEL] = FakeModel(chunks=[GOOD])
        write_target(
            tmp_path,
            ollama_model(server.host, 'edit_format = "auto"\n'),
            "[budgets]\nmax_experiments = 1\n",
        )
        done = perfsup("run", "--headless", "-c", "perfsup.toml", "--run-dir", "run", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "edit format: search_replace (7.6B parameters)" in done.stdout
    assert "experiment budget reached (1 of 1)" in done.stdout
    status = perfsup("status", "-c", "perfsup.toml", "--run-dir", "run", cwd=tmp_path)
    lines = status.stdout.splitlines()
    node = next(line for line in lines if " 1.1 " in line)
    run_line = lines[0]
    # token use per node and per run, from the final chunk of the real protocol
    used = int(run_line.split("tokens used ")[1].split(" ")[0])
    prompt, answer = node.split("(tokens ")[1].rstrip(")").split("+")
    assert used == int(prompt) + int(answer) > 0
    assert "in 1 model call, prompts read in " in run_line


def test_run_with_llama_and_a_missing_model_file_is_a_one_line_error(tmp_path: Path) -> None:
    write_target(tmp_path, '[model]\nbackend = "llama"\ngguf_path = "nope.gguf"\n')
    done = perfsup("run", "--headless", "-c", "perfsup.toml", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "gguf_path" in done.stderr
    assert "Traceback" not in done.stderr
