"""The OpenAI-compatible backend against llama-cpp-python's own server and the
small real model (Gemma 3 270M) on 127.0.0.1, with an API key read from an
environment variable."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from perfsup.agent.backend import ChatMessage, ModelUnavailable
from perfsup.agent.openai_backend import OpenAIBackend, api_key_from
from tests.llama_model import small_gguf
from tests.llama_server import API_KEY, llama_cpp_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # a real model on shared cores

SOURCE = (
    "def total(values):\n"
    "    result = 0\n"
    "    for value in values:\n"
    "        result += value\n"
    "    return result\n"
    "\n"
    "\n"
    "def mean(values):\n"
    "    return total(values) / len(values)\n"
)
ASK = [
    ChatMessage("system", "You improve Python code. Answer in the edit format."),
    ChatMessage("user", f"File stats.py:\n{SOURCE}\nMake total() faster."),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with llama_cpp_server(tmp_path_factory.mktemp("llama-server")) as base_url:
        yield base_url


def backend(base_url: str, *, name: str = "", answer_tokens: int = 48) -> OpenAIBackend:
    key = api_key_from("LLAMA_SERVER_TEST_KEY", {"LLAMA_SERVER_TEST_KEY": API_KEY})
    return OpenAIBackend(
        base_url=base_url, model=name, max_answer_tokens=answer_tokens, temperature=0.2, api_key=key
    )


def test_streams_an_answer_and_records_its_tokens(server: str) -> None:
    model = backend(server)
    assert model.ready().endswith("serves " + str(small_gguf()))  # the only model, by path
    seen: list[str] = []
    reply = model.complete(ASK, on_token=seen.append, seed=1)
    assert len(seen) > 1 and "".join(seen) == reply.text
    assert reply.model == f"openai:{small_gguf()}"
    # this server reports no usage when streaming: its tokenizer counted the texts
    assert reply.prompt_tokens == sum(model.count_tokens(m.content) for m in ASK)
    assert reply.completion_tokens == model.count_tokens(reply.text)
    assert 0 < reply.completion_tokens <= 48 + 2
    assert 0 < reply.ttft_s <= reply.total_s and reply.prompt_eval_s == reply.ttft_s
    assert model.parameter_count() == pytest.approx(270e6)  # "270m" in the file's name
    model.close()


def test_counts_tokens_as_the_models_own_tokenizer_does(server: str) -> None:
    from llama_cpp import Llama

    model = backend(server)
    vocab = Llama(model_path=str(small_gguf()), vocab_only=True, verbose=False)
    for text in (SOURCE, "hello world", "ünïcode ✓ and\ttabs\n"):
        assert model.count_tokens(text) == len(vocab.tokenize(text.encode(), add_bos=False))
    assert model.tokenize_route == "/extras/tokenize/count"  # llama-cpp-python's route
    assert model.tokenize_overhead == 1  # its BOS, taken off every count
    assert model.count_tokens("") == 0
    model.close()


def test_a_grammar_reaches_the_server_and_constrains_the_answer(server: str) -> None:
    # a small grammar: perfsup's retry grammars work the same way but cost minutes
    # of sampling on shared cores (tests/test_agent_llama.py runs them in-process)
    model = backend(server)
    answers = {
        model.complete(ASK, seed=seed, grammar='root ::= "faster" | "slower"').text
        for seed in (1, 2)
    }
    assert answers <= {"faster", "slower"} and model.grammar_accepted
    model.close()


def test_a_wrong_key_or_an_unlisted_model_is_named_before_any_token(server: str) -> None:
    wrong = OpenAIBackend(
        base_url=server, model="", max_answer_tokens=48, temperature=0.2, api_key="not-the-key"
    )
    with pytest.raises(ModelUnavailable, match=r"refused the API key \(HTTP 401") as before:
        wrong.ready()
    with pytest.raises(ModelUnavailable, match="refused the API key") as during:
        wrong.complete(ASK)  # during a run too: waiting would not fix it
    assert "not-the-key" not in str(before.value) + str(during.value)
    unlisted = backend(server, name="qwen2.5-coder:7b")
    with pytest.raises(ModelUnavailable) as caught:
        unlisted.ready()
    message = str(caught.value)
    assert "does not list model 'qwen2.5-coder:7b'" in message
    assert f"it lists: {small_gguf()}" in message
