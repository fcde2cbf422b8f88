"""`perfsup run` with the OpenAI-compatible backend, end to end.

llama-cpp-python's own server serves the small real model on 127.0.0.1 and
wants an API key, which perfsup reads from the variable the config names.
Two experiments on the bundled demo target run through the whole loop
(whatever the model writes); every call's tokens are recorded, the answers
stream into the agent logs, and the key is written nowhere in the run folder
or the repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import select

from perfsup.engine.rundir import RunPaths
from perfsup.store import ModelCall, Node, Run, open_store
from tests.helpers import git
from tests.llama_server import API_KEY, llama_cpp_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "perfsup" / "demo" / "target"
PERFSUP = [sys.executable, "-m", "perfsup"]


def test_a_run_through_an_openai_compatible_server_records_tokens_and_stores_no_key(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "demo"
    shutil.copytree(DEMO, repo, ignore=shutil.ignore_patterns("__pycache__"))
    with llama_cpp_server(tmp_path) as base_url:
        config = (repo / "perfsup.toml").read_text()
        config = config.replace(
            'backend = "scripted"\nscript = "answers.toml"',
            f'backend = "openai"\nbase_url = "{base_url}"\napi_key_env = "LLAMA_SERVER_TEST_KEY"\n'
            "context_tokens = 2048\nmax_answer_tokens = 64\nmax_retries = 0\ntemperature = 0.7",
        )
        config = config.replace("max_experiments = 5", "max_experiments = 2")
        config = config.replace("pairs = 14", "pairs = 4")
        config = config.replace("looks = [6, 10, 14]", "looks = [4]")
        config = config.replace("calibration_pairs = 10", "calibration_pairs = 4")
        (repo / "perfsup.toml").write_text(config)
        git(tmp_path, "init", "-q", str(repo))
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "demo")
        done = subprocess.run(
            [*PERFSUP, "run", "--headless", "-c", "perfsup.toml", "--run-dir", "../run"],
            cwd=repo,
            env={**os.environ, "PYTHONPATH": str(ROOT), "LLAMA_SERVER_TEST_KEY": API_KEY},
            capture_output=True,
            text=True,
            timeout=1800,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "preflight: model ok: the server at" in done.stdout
    assert "edit format: region (0.27B parameters)" in done.stdout  # "270m" in its name

    paths = RunPaths(tmp_path / "run")
    store = open_store(paths.store)
    with store.session() as s:
        run = s.get(Run, 1)
        children = s.exec(select(Node).where(Node.parent_id.is_not(None))).all()  # type: ignore[union-attr]
        calls = s.exec(select(ModelCall)).all()
    store.close()
    assert run is not None and run.stop_reason is not None
    assert len(children) == 2 and all(n.finished_at is not None for n in children)
    assert len(calls) == 2  # one call per experiment: no retries
    assert all(c.prompt_tokens > 200 and c.completion_tokens > 0 for c in calls)
    assert all(c.prompt_eval_s is not None and c.prompt_eval_s > 0 for c in calls)
    assert run.tokens_used == sum(c.prompt_tokens + c.completion_tokens for c in calls)
    assert paths.log("1.1", "agent").read_text().strip()  # the answer streamed into the log

    # the key went to the server only: nothing perfsup wrote holds it
    for folder in (tmp_path / "run", repo):
        for path in folder.rglob("*"):
            if path.is_file():
                assert API_KEY.encode() not in path.read_bytes(), path
