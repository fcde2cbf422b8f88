"""`perfsup run` with the llama.cpp backend and the small real model, end to end.

Gemma 3 270M on the bundled demo target: several experiments run through
the whole loop (whatever the model writes), token use is recorded per node
and per run, and the token budget ends the run at the first call past it,
with the reason shown. Kept short: a 64-token answer budget, no retries.
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
from tests.llama_model import small_gguf

# a real model on two shared cores: about a minute per call, minutes for the run
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "perfsup" / "demo" / "target"
BUDGET = 3000  # about three calls: each prompt is about 1000 tokens


def perfsup(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "perfsup", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )


def test_a_llama_run_on_the_demo_records_tokens_and_stops_at_the_token_budget(
    tmp_path: Path,
) -> None:
    gguf = small_gguf()
    repo = tmp_path / "demo"
    shutil.copytree(DEMO, repo, ignore=shutil.ignore_patterns("__pycache__"))
    config = (repo / "perfsup.toml").read_text()
    config = config.replace(
        'backend = "scripted"\nscript = "answers.toml"',
        f'backend = "llama"\ngguf_path = "{gguf}"\ncontext_tokens = 2048\n'
        "max_answer_tokens = 64\nmax_retries = 0\nthreads = 2\ntemperature = 0.7",
    )
    config = config.replace("max_experiments = 5", f"max_experiments = 6\nmax_tokens = {BUDGET}")
    config = config.replace("pairs = 14", "pairs = 4").replace("looks = [6, 10, 14]", "looks = [4]")
    config = config.replace("calibration_pairs = 10", "calibration_pairs = 4")
    (repo / "perfsup.toml").write_text(config)
    git(tmp_path, "init", "-q", str(repo))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "demo")

    done = perfsup("run", "--headless", "-c", "perfsup.toml", "--run-dir", "../run", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "edit format: region (0.27B parameters)" in done.stdout
    assert "token budget reached" in done.stdout

    paths = RunPaths(tmp_path / "run")
    store = open_store(paths.store)
    with store.session() as s:
        run = s.get(Run, 1)
        children = s.exec(select(Node).where(Node.parent_id.is_not(None))).all()  # type: ignore[union-attr]
        calls = s.exec(select(ModelCall)).all()
    store.close()
    assert run is not None and run.stop_reason is not None
    assert run.stop_reason.startswith("token budget reached")
    # several experiments ran to an end state, each with its own calls
    assert len(children) >= 2 and all(n.finished_at is not None for n in children)
    assert all(n.prompt_tokens > 0 and n.completion_tokens > 0 for n in children)
    assert sum(n.prompt_tokens + n.completion_tokens for n in children) == run.tokens_used
    assert run.tokens_used == sum(c.prompt_tokens + c.completion_tokens for c in calls)
    # the budget is checked before each call: every call but the last started under it
    assert (
        sum(c.prompt_tokens + c.completion_tokens for c in calls[:-1]) < BUDGET <= run.tokens_used
    )
    assert all(c.prompt_eval_s is not None and c.prompt_eval_s > 0 for c in calls)
    assert calls[1].cached_tokens is not None and calls[1].cached_tokens > 500  # shared prefix
    # the model's answer streamed into each node's agent log
    assert paths.log("1.1", "agent").read_text().strip()

    status = perfsup("status", "-c", "perfsup.toml", "--run-dir", "../run", cwd=repo)
    assert "token budget reached" in status.stdout
    assert f"tokens used {run.tokens_used}" in status.stdout
    node_line = next(line for line in status.stdout.splitlines() if " 1.1 " in line)
    first = next(n for n in children if n.id == "1.1")
    assert f"(tokens {first.prompt_tokens}+{first.completion_tokens})" in node_line
