"""The Ollama backend with the real `ollama` client against a local test server."""

from __future__ import annotations

import pytest

from perfsup.agent.backend import CallFailed, ChatMessage, ModelWaiting
from perfsup.agent.ollama_backend import OllamaBackend, parse_parameter_size
from tests.ollama_server import FakeModel, OllamaTestServer, free_port

MESSAGES = [ChatMessage("system", "You are terse."), ChatMessage("user", "x = 1\n" * 300)]


def backend(host: str, model: str = "qwen2.5-coder:7b", context: int = 4096) -> OllamaBackend:
    return OllamaBackend(
        model=model,
        host=host,
        context_tokens=context,
        max_answer_tokens=256,
        temperature=0.2,
        keep_alive="10m",
    )


def test_streams_tokens_and_reads_usage_from_the_final_chunk() -> None:
    with OllamaTestServer() as server:
        server.state.models["qwen2.5-coder:7b"] = FakeModel(chunks=["DESC", "RIPTION", ": x\n"])
        seen: list[str] = []
        reply = backend(server.host).complete(MESSAGES, on_token=seen.append, seed=3)
        sent = server.state.requests[-1]
    assert seen == ["DESC", "RIPTION", ": x\n"]
    assert reply.text == "DESCRIPTION: x\n"
    assert reply.model == "ollama:qwen2.5-coder:7b"
    assert reply.completion_tokens == 3
    assert reply.prompt_tokens == sum(len(m.content) for m in MESSAGES) // 4
    assert reply.prompt_eval_s == pytest.approx(0.4)
    assert 0 <= reply.ttft_s <= reply.total_s
    assert reply.warnings == []
    # fixed context, answer length, seed per attempt and keep_alive reach the server
    assert sent["options"]["num_ctx"] == 4096
    assert sent["options"]["num_predict"] == 256
    assert sent["options"]["seed"] == 3
    assert sent["keep_alive"] == "10m"
    assert sent["stream"] is True


def test_a_missing_model_names_ollama_pull_and_is_worth_waiting_for() -> None:
    with OllamaTestServer() as server:
        server.state.models["llama3.2:latest"] = FakeModel(chunks=["hi"])
        with pytest.raises(ModelWaiting) as caught:
            backend(server.host, model="qwen2.5-coder:7b").complete(MESSAGES)
    message = str(caught.value)
    assert "ollama pull qwen2.5-coder:7b" in message
    assert "llama3.2:latest" in message  # what is installed instead


def test_a_server_that_is_down_is_worth_waiting_for() -> None:
    host = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ModelWaiting, match="does not answer"):
        backend(host).complete(MESSAGES)


def test_an_error_line_mid_stream_ends_the_call_with_the_partial_text() -> None:
    with OllamaTestServer() as server:
        server.state.models["qwen2.5-coder:7b"] = FakeModel(
            chunks=["DESCRIPTION", ": half", " never"], error_after=2
        )
        seen: list[str] = []
        with pytest.raises(CallFailed) as caught:
            backend(server.host).complete(MESSAGES, on_token=seen.append)
    assert "error was encountered while running the model" in str(caught.value)
    assert caught.value.partial == "DESCRIPTION: half"
    assert seen == ["DESCRIPTION", ": half"]


def test_a_prompt_counted_far_below_the_estimate_is_reported_as_cut() -> None:
    with OllamaTestServer() as server:
        server.state.models["qwen2.5-coder:7b"] = FakeModel(chunks=["ok"], prompt_eval_count=90)
        reply = backend(server.host).complete(MESSAGES)
    assert len(reply.warnings) == 1
    assert "probably cut" in reply.warnings[0] and "90" in reply.warnings[0]


def test_a_prompt_that_fills_the_window_is_reported_as_cut() -> None:
    with OllamaTestServer() as server:
        server.state.models["qwen2.5-coder:7b"] = FakeModel(chunks=["ok"], prompt_eval_count=1024)
        reply = backend(server.host, context=1024).complete([ChatMessage("user", "hi")])
    assert any("whole context window" in w for w in reply.warnings)


def test_unload_sends_keep_alive_zero_and_size_comes_from_show() -> None:
    with OllamaTestServer() as server:
        server.state.models["qwen2.5-coder:7b"] = FakeModel(chunks=["ok"])
        b = backend(server.host)
        b.unload()
        assert server.state.requests[-1]["keep_alive"] == 0
        assert b.parameter_count() == 7_615_616_512
        assert b.server_version() == "0.6.5"
        server.state.models["small"] = FakeModel(
            chunks=["ok"], parameter_size="270M", parameter_count=None
        )
        assert backend(server.host, model="small").parameter_count() == 270e6
    assert parse_parameter_size("1.5B") == 1.5e9
    assert parse_parameter_size("big") is None
