"""Token budgets with the model's own tokenizer: every prompt fits with its answer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from perfsup.agent.backend import ModelReply, TokenCounting
from perfsup.agent.llama_backend import LlamaBackend
from perfsup.agent.prompt import MESSAGE_OVERHEAD_TOKENS, PromptDoesNotFit, build_messages
from perfsup.agent.tokens import CachedCounter, LearnedRatio, estimate_tokens
from perfsup.config import AccessRules
from perfsup.engine.proposal import RETRY_RESERVE_TOKENS
from tests.llama_model import small_gguf

# a real model on two shared cores: minutes per call when the machine is loaded
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

CONTEXT = 2048
ANSWER = 256
# dense code: short names, operators and numbers tokenize at far fewer than 4 chars a token
DENSE = "".join(
    f"def f{i}(a,b):\n    return (a*{i}+b//{i + 1})^(a<<{i % 7})|{i * 31 % 97}\n\n\n"
    for i in range(400)
)


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaBackend]:
    backend = LlamaBackend(
        gguf_path=small_gguf(),
        context_tokens=CONTEXT,
        max_answer_tokens=ANSWER,
        temperature=0.2,
        threads=2,
        log_dir=tmp_path_factory.mktemp("llama-logs"),
    )
    yield backend
    backend.close()


def messages(count: object = estimate_tokens, **extra: object) -> list:  # type: ignore[type-arg]
    return build_messages(
        goal="make f0 faster", rules=AccessRules(writable=["src"]),
        sources={"src/dense.py": DENSE}, inquiry=[], failed_tries=[], last_failure=None,
        hints=[], edit_format="search_replace", context_tokens=CONTEXT, answer_tokens=ANSWER,
        count=count, **extra,  # type: ignore[arg-type]
    )  # fmt: skip


def test_the_prompt_fits_by_the_models_own_count(llama: LlamaBackend) -> None:
    assert isinstance(llama, TokenCounting)
    count = CachedCounter(llama.count_tokens)
    budget = CONTEXT - ANSWER

    def real(ms: list) -> int:  # type: ignore[type-arg]
        return sum(llama.count_tokens(m.content) + MESSAGE_OVERHEAD_TOKENS for m in ms)

    # the 4-characters rule fills the budget by its estimate and overflows the real one
    guessed = messages()
    assert real(guessed) > budget
    exact = messages(count, reserve_tokens=RETRY_RESERVE_TOKENS)
    assert real(exact) <= budget - RETRY_RESERVE_TOKENS
    assert "### src/dense.py (truncated: only lines 1-" in exact[1].content
    # the model agrees: the answer budget is left free, and the call says its limit
    reply: ModelReply = llama.complete(exact, seed=1)
    assert reply.prompt_tokens + ANSWER <= CONTEXT
    assert reply.answer_limit == ANSWER
    assert reply.truncated == (reply.completion_tokens >= ANSWER)


def test_an_answer_cut_by_its_limit_says_so(llama: LlamaBackend) -> None:
    keep = llama.max_answer_tokens
    llama.max_answer_tokens = 3
    try:
        reply = llama.complete(messages(CachedCounter(llama.count_tokens)), seed=2)
    finally:
        llama.max_answer_tokens = keep
    assert reply.answer_limit == 3 and reply.completion_tokens <= 3 and reply.truncated


def test_a_context_too_small_for_a_useful_prompt_names_the_size_needed(
    llama: LlamaBackend,
) -> None:
    with pytest.raises(PromptDoesNotFit) as caught:
        build_messages(
            goal="g", rules=AccessRules(writable=["src"]), sources={}, inquiry=[],
            failed_tries=[], last_failure=None, hints=[], edit_format="search_replace",
            context_tokens=600, answer_tokens=ANSWER, count=llama.count_tokens,
        )  # fmt: skip
    assert caught.value.needed > 600
    assert f"a context of about {caught.value.needed} tokens" in str(caught.value)


def test_a_learned_ratio_counts_with_a_margin() -> None:
    ratio = LearnedRatio()
    assert ratio.count("x" * 300) == 110  # before any call: 3 characters a token, plus 10%
    ratio.learn(chars=3200, tokens=1000)  # 3.2 characters a token on this model's prompts
    ratio.learn(chars=4000, tokens=1000)  # a cached call later says less: the least wins
    assert ratio.chars_per_token == pytest.approx(3.2)
    assert ratio.count("x" * 3200) == 1100


def test_counts_of_a_text_seen_before_are_remembered() -> None:
    counted: list[str] = []

    def count(text: str) -> int:
        counted.append(text)
        return len(text)

    cached = CachedCounter(count)
    assert cached("abc") == cached("abc") == 3 and counted == ["abc"]
