"""The OpenAI-compatible backend's contract, without a model: the config, the
preflight with nothing listening, and a small server speaking llama.cpp's
dialect (usage and timings, /tokenize, a refused grammar, a loading model).

The backend against a real server and model is tests/test_agent_openai.py.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from perfsup.agent.backend import (
    CallFailed,
    ChatMessage,
    Checkable,
    ModelWaiting,
    TokenCounting,
)
from perfsup.agent.openai_backend import OpenAIBackend, TokenizeUnsupported
from perfsup.agent.tokens import estimate_tokens
from tests.helpers import bench_sh_config, make_repo
from tests.ollama_server import free_port
from tests.openai_server import OpenAITestServer

ROOT = Path(__file__).resolve().parents[1]
ASK = [ChatMessage("system", "You improve code."), ChatMessage("user", "Make f faster.")]


def target(tmp_path: Path, model: str) -> Path:
    """repo/ with a bench that works, and a perfsup.toml whose [model] is `model`."""
    make_repo(tmp_path / "repo", {"src/app.py": "x = 1\n", "bench.sh": "echo 'METRIC t=1.5'\n"})
    config = bench_sh_config(model=model).replace(
        'backend = "scripted"\nscript = "answers.toml"\n', ""
    )
    (tmp_path / "perfsup.toml").write_text(config)
    return tmp_path


def perfsup(folder: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "perfsup", *args, "-c", "perfsup.toml", "--run-dir", "run"],
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=600,
    )
    return done.returncode, done.stdout, done.stderr


# ------------------------------------------------------------------ preflight
def test_a_server_that_does_not_answer_stops_the_run_at_preflight(tmp_path: Path) -> None:
    base_url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    folder = target(tmp_path, f'backend = "openai"\nname = "m"\nbase_url = "{base_url}"\n')
    code, out, err = perfsup(folder, "run", "--headless")
    assert code == 2, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert f"model openai:m: the server at {base_url} does not answer" in lines[0]
    assert "fix model.base_url" in lines[0]
    assert not (folder / "run" / "logs" / "preflight").exists()  # nothing was built or run
    with sqlite3.connect(folder / "run" / "perfsup.db") as con:
        assert con.execute("SELECT count(*) FROM modelcall").fetchone()[0] == 0


def test_perfsup_check_names_a_model_the_server_does_not_list(tmp_path: Path) -> None:
    with OpenAITestServer() as server:
        folder = target(
            tmp_path, f'backend = "openai"\nname = "other"\nbase_url = "{server.base_url}"\n'
        )
        code, out, err = perfsup(folder, "check")
        assert server.state.requests == []  # no chat: no tokens spent
    assert code == 2, out + err
    assert "does not list model 'other' (it lists: qwen2.5-coder-7b-instruct-q4_k_m.gguf)" in err


def test_perfsup_check_passes_with_the_model_listed(tmp_path: Path) -> None:
    with OpenAITestServer() as server:
        folder = target(tmp_path, f'backend = "openai"\nbase_url = "{server.base_url}"\n')
        code, out, err = perfsup(folder, "check")
        assert server.state.requests == []
    assert code == 0, out + err
    assert f"the server at {server.base_url} answers and serves qwen2.5-coder" in out


# ------------------------------------------------------------------- config
def test_the_api_key_comes_from_the_variable_the_config_names(tmp_path: Path) -> None:
    model = 'backend = "openai"\nbase_url = "http://127.0.0.1:9/v1"\napi_key_env = "MY_LLM_KEY"\n'
    folder = target(tmp_path, model)
    environ = {k: v for k, v in os.environ.items() if k != "MY_LLM_KEY"}
    done = subprocess.run(
        [sys.executable, "-m", "perfsup", "check", "-c", "perfsup.toml", "--run-dir", "run"],
        cwd=folder,
        env={**environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1
    assert "names the environment variable MY_LLM_KEY, which is not set" in done.stderr


def test_a_key_pasted_into_api_key_env_is_refused_and_not_repeated(tmp_path: Path) -> None:
    secret = "sk-proj-Abc123-Def456"
    model = f'backend = "openai"\nbase_url = "http://127.0.0.1:9/v1"\napi_key_env = "{secret}"\n'
    code, out, err = perfsup(target(tmp_path, model), "check")
    assert code == 2, out + err
    assert "model.api_key_env" in err and "not the key itself" in err
    assert secret not in out + err


def test_a_key_variable_that_commands_would_see_is_refused(tmp_path: Path) -> None:
    model = 'backend = "openai"\nbase_url = "http://127.0.0.1:9/v1"\napi_key_env = "PERFSUP_KEY"\n'
    code, out, err = perfsup(target(tmp_path, model), "check")
    assert code == 2, out + err
    assert "does not start with PERFSUP_" in err


def test_the_openai_backend_needs_a_base_url(tmp_path: Path) -> None:
    code, out, err = perfsup(target(tmp_path, 'backend = "openai"\n'), "check")
    assert code == 2, out + err
    assert "backend = 'openai' needs base_url" in err
    model = 'backend = "openai"\nbase_url = "127.0.0.1:8080/v1"\n'
    code, out, err = perfsup(target(tmp_path / "again", model), "check")
    assert code == 2, out + err
    assert "model.base_url = '127.0.0.1:8080/v1': expected an http:// or https://" in err


# ------------------------------------------------- llama.cpp's server dialect
def make(server: OpenAITestServer, name: str = "", context_tokens: int = 8192) -> OpenAIBackend:
    return OpenAIBackend(
        base_url=server.base_url,
        model=name,
        max_answer_tokens=64,
        temperature=0.2,
        context_tokens=context_tokens,
        api_key="k",
    )


def test_usage_and_timings_of_the_last_chunk_are_recorded() -> None:
    with OpenAITestServer() as server:
        backend = make(server)
        seen: list[str] = []
        reply = backend.complete(ASK, on_token=seen.append, seed=7)
        body = server.state.requests[0]
        size = backend.parameter_count()
    assert seen == ["def ", "f():", "\n    pass"] and reply.text == "def f():\n    pass"
    assert (reply.prompt_tokens, reply.completion_tokens, reply.cached_tokens) == (812, 3, 800)
    assert reply.prompt_eval_s == pytest.approx(0.25)
    assert reply.model == "openai:qwen2.5-coder-7b-instruct-q4_k_m.gguf"
    assert body["model"] == "qwen2.5-coder-7b-instruct-q4_k_m.gguf" and body["seed"] == 7
    assert body["stream"] is True and body["max_tokens"] == 64 and "grammar" not in body
    assert size == 7_615_616_512  # llama.cpp's meta.n_params, not the "7b" of the name
    assert reply.answer_limit == 64 and not reply.truncated
    assert isinstance(backend, TokenCounting) and isinstance(backend, Checkable)


def test_an_answer_cut_at_its_limit_says_so() -> None:
    with OpenAITestServer() as server:
        server.state.finish = "length"
        reply = make(server, "m", context_tokens=850).complete(ASK)
        # a server that ignores max_tokens is cut off by perfsup
        server.state.finish = "stop"
        server.state.chunks = ["x" * 1000] * 50
        endless = make(server, "m").complete(ASK)
    assert reply.truncated and reply.answer_limit == 850 - 812  # the room the prompt left
    assert endless.truncated and len(endless.text) == 3000  # 64 tokens * 32 chars, passed


def test_counts_tokens_by_the_root_tokenize_route() -> None:
    with OpenAITestServer() as server:
        backend = make(server, "m")
        assert backend.count_tokens("one two three") == 3
        assert backend.tokenize_route == "/tokenize" and backend.tokenize_overhead == 0
        server.state.tokenize = False
        without = make(server, "m")
        with pytest.raises(TokenizeUnsupported, match="no tokenize endpoint"):
            without.count_tokens("one two")


def test_a_stream_without_usage_is_counted_by_the_tokenizer_or_estimated() -> None:
    with OpenAITestServer() as server:
        server.state.usage = False
        counted = make(server, "m").complete(ASK)
        server.state.tokenize = False
        estimated = make(server, "m").complete(ASK)
    assert counted.prompt_tokens == 3 + 3  # "You improve code." and "Make f faster."
    assert counted.completion_tokens == 3  # "def f():\n    pass": three words to the fake
    assert estimated.prompt_tokens == sum(estimate_tokens(m.content) for m in ASK)
    assert estimated.completion_tokens == estimate_tokens("def f():\n    pass")
    for reply in (counted, estimated):
        assert reply.cached_tokens is None and reply.prompt_eval_s == reply.ttft_s


def test_a_refused_grammar_is_dropped_and_the_call_answered() -> None:
    with OpenAITestServer() as server:
        server.state.refuse_grammar = True
        backend = make(server, "m")
        reply = backend.complete(ASK, grammar='root ::= "x"')
        again = backend.complete(ASK, grammar='root ::= "x"')
        sent = [("grammar" in body) for body in server.state.requests]
    assert reply.text == again.text == "def f():\n    pass"
    assert sent == [True, False, False]  # asked once with it, never again
    assert backend.grammar_accepted is False


def test_a_loading_server_is_waited_for_and_a_broken_stream_fails_the_call() -> None:
    with OpenAITestServer() as server:
        backend = make(server, "m")
        server.state.loading = True
        with pytest.raises(ModelWaiting, match="not ready: Loading model"):
            backend.complete(ASK)
        server.state.loading = False
        server.state.error_after = 2
        with pytest.raises(CallFailed, match="the runner died") as caught:
            backend.complete(ASK)
    assert caught.value.partial == "def f():"


def test_pings_are_skipped_and_nonsense_usage_or_events_are_not_believed() -> None:
    with OpenAITestServer() as server:
        server.state.raw_before = [b": ping\n\n", b"event: ping\ndata: 2026-12-03\n\n"]
        server.state.usage_sent = {"prompt_tokens": -5, "completion_tokens": "many"}
        reply = make(server, "m").complete(ASK)
        server.state.usage_sent = "all of them"
        again = make(server, "m").complete(ASK)
        server.state.raw_before = [b"data: <html>oops</html>\n\n"]
        with pytest.raises(CallFailed, match="not a JSON object: '<html>oops</html>'"):
            make(server, "m").complete(ASK)
    assert reply.text == again.text == "def f():\n    pass"
    for got in (reply, again):  # counted by the tokenizer instead
        assert (got.prompt_tokens, got.completion_tokens) == (6, 3)
        assert got.cached_tokens == 800  # timings still say it


def test_a_server_that_is_down_during_a_run_is_waited_for() -> None:
    backend = OpenAIBackend(
        base_url=f"http://127.0.0.1:{free_port()}/v1", model="m", max_answer_tokens=64,
        temperature=0.2,
    )  # fmt: skip
    with pytest.raises(ModelWaiting, match="does not answer"):
        backend.complete(ASK)
