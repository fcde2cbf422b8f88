"""The llama.cpp backend with a real small model (Gemma 3 270M) in a child process."""

from __future__ import annotations

import ast
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfsup.agent.apply import EditDoesNotApply, apply_edit
from perfsup.agent.backend import CallFailed, ChatMessage, ModelUnavailable
from perfsup.agent.edits import ProposedEdit, parse_answer
from perfsup.agent.grammar import forbid_unchanged, region_grammar, search_replace_grammar
from perfsup.agent.llama_backend import LlamaBackend
from perfsup.agent.llama_child import GEMMA, builtin_format, fold_system, format_builtin
from tests.llama_model import small_gguf

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
DEMO_CORE = Path(__file__).resolve().parents[1] / "perfsup/demo/target/textstats/core.py"
pytestmark = pytest.mark.slow  # a real model on two shared cores: tens of seconds per call

ASK = [
    ChatMessage("system", "You improve Python code. Answer in the edit format."),
    ChatMessage("user", f"File stats.py:\n{SOURCE}\nMake total() faster."),
]


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaBackend]:
    backend = LlamaBackend(
        gguf_path=small_gguf(),
        context_tokens=2048,
        max_answer_tokens=48,  # plain calls: a few tokens prove streaming
        temperature=0.2,
        threads=2,
        log_dir=tmp_path_factory.mktemp("llama-logs"),
    )
    yield backend
    backend.close()


def test_streams_and_counts_tokens_with_the_models_tokenizer(llama: LlamaBackend) -> None:
    seen: list[str] = []
    reply = llama.complete(ASK, on_token=seen.append, seed=1)
    assert seen and "".join(seen) == reply.text
    assert reply.model == "llama:gemma-3-270m-q4_k_m.gguf"
    # the prompt holds both messages (the system one folded into the user turn)
    own = llama.count_tokens(ASK[0].content) + llama.count_tokens(ASK[1].content)
    assert own < reply.prompt_tokens < own + 40
    assert abs(reply.completion_tokens - llama.count_tokens(reply.text)) <= 2
    assert 0 < reply.ttft_s <= reply.total_s
    assert llama.info["chat_format"] == GEMMA and llama.info["has_system_role"] is False
    assert llama.parameter_count() == pytest.approx(268e6, rel=0.05)


def test_a_second_call_reuses_the_cached_prefix(llama: LlamaBackend) -> None:
    llama.complete(ASK, seed=1)
    again = llama.complete([*ASK[:1], ChatMessage("user", ASK[1].content + " Be brief.")], seed=2)
    assert again.cached_tokens is not None and again.cached_tokens > 50


def test_a_grammar_constrained_answer_parses_and_its_search_blocks_match(
    llama: LlamaBackend, tmp_path: Path
) -> None:
    # no answer budget to raise: a grammar answer may use the room left in the context
    reply = llama.complete(ASK, seed=3, grammar=search_replace_grammar({"stats.py": SOURCE}))
    edit = parse_answer(reply.text)
    assert edit.paths == ["stats.py"] and len(edit.blocks) == 1
    assert SOURCE.count(edit.blocks[0].search) == 1  # lines of the file, found once
    _assert_applies(edit, tmp_path)


def test_a_region_grammar_answer_rewrites_a_real_function_and_applies(
    llama: LlamaBackend, tmp_path: Path
) -> None:
    reply = llama.complete(ASK, seed=4, grammar=region_grammar({"stats.py": SOURCE}))
    edit = parse_answer(reply.text)
    assert edit.region is not None and edit.region.path == "stats.py"
    assert edit.region.region in ("total", "mean")
    _assert_applies(edit, tmp_path)


def test_a_grammar_retry_told_to_copy_a_demo_function_must_change_it(
    llama: LlamaBackend, tmp_path: Path
) -> None:
    core = DEMO_CORE.read_text()
    files = {"textstats/core.py": core}
    ask = [
        ChatMessage(
            "user",
            f"File textstats/core.py:\n{core}\nRepeat the function tokenize exactly as it is, "
            "unchanged.\nREGION: textstats/core.py::tokenize",
        )
    ]
    # without forbid_unchanged this request (seed 4) got tokenize back word for word
    reply = llama.complete(
        ask,
        seed=4,
        grammar=region_grammar(files),
        forbid_unchanged=forbid_unchanged("region", files),
    )
    edit = parse_answer(reply.text)
    (tmp_path / "textstats").mkdir()
    (tmp_path / "textstats" / "core.py").write_text(core)
    assert apply_edit(tmp_path, edit) == ["textstats/core.py"]  # applies: not unchanged
    after = (tmp_path / "textstats" / "core.py").read_text()
    assert after != core
    ast.parse(after)


def _assert_applies(edit: ProposedEdit, tmp_path: Path) -> None:
    """The edit applies and the file still parses (or the model copied the code exactly)."""
    (tmp_path / "stats.py").write_text(SOURCE)
    try:
        apply_edit(tmp_path, edit)
    except EditDoesNotApply as exc:
        assert "changes nothing" in str(exc)
    else:
        ast.parse((tmp_path / "stats.py").read_text())


def test_a_child_killed_mid_call_fails_the_call_and_is_restarted(llama: LlamaBackend) -> None:
    llama.parameter_count()  # makes sure a child runs
    starts, pid = llama.starts, llama.pid
    assert pid is not None

    def kill_on_first_token(_text: str) -> None:
        os.kill(pid, signal.SIGKILL)

    with pytest.raises(CallFailed, match="killed by signal 9"):
        llama.complete(ASK, on_token=kill_on_first_token, seed=5)
    reply = llama.complete(ASK, seed=6)  # a fresh child answers
    assert reply.text
    assert llama.starts == starts + 1 and llama.pid != pid


def test_llama_cpp_chatter_stays_out_of_our_stderr(
    llama: LlamaBackend, capfd: pytest.CaptureFixture[str]
) -> None:
    llama.close()
    llama.complete(ASK, seed=7)  # a new child loads the model: llama.cpp talks then
    captured = capfd.readouterr()
    assert "llama" not in captured.err and "ggml" not in captured.err


def test_a_file_that_is_not_a_model_is_a_clear_error(tmp_path: Path) -> None:
    small_gguf()  # skips without llama-cpp-python
    bogus = tmp_path / "model.gguf"
    bogus.write_bytes(b"not a model")
    backend = LlamaBackend(
        gguf_path=bogus,
        context_tokens=512,
        max_answer_tokens=64,
        temperature=0.0,
        log_dir=tmp_path,
    )
    with pytest.raises(ModelUnavailable, match="cannot load"):
        backend.complete(ASK)
    backend.close()


def test_chat_formats_fold_the_system_turn_for_gemma() -> None:
    messages = [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "U"},
        {"role": "assistant", "content": "A"},
        {"role": "user", "content": "V"},
    ]
    assert fold_system(messages)[0] == {"role": "user", "content": "S\n\nU"}
    assert builtin_format("gemma3") == GEMMA and builtin_format("qwen2") == "chatml"
    prompt, stop = format_builtin(GEMMA, messages)
    assert prompt == (
        "<start_of_turn>user\nS\n\nU<end_of_turn>\n<start_of_turn>model\nA<end_of_turn>\n"
        "<start_of_turn>user\nV<end_of_turn>\n<start_of_turn>model\n"
    )
    assert stop == ["<end_of_turn>"]
    chatml, _ = format_builtin("chatml", messages)
    assert chatml.startswith("<|im_start|>system\nS<|im_end|>\n")


def test_a_grammar_forcing_text_the_model_would_never_write_is_still_followed(
    llama: LlamaBackend,
) -> None:
    # The child checks the grammar on the likeliest tokens first (lazy_grammar.py);
    # here none of them is allowed, so the whole vocabulary is judged, token by token.
    forced = "Zebra quartz 7919 xylophone"
    reply = llama.complete(ASK, seed=5, grammar=f'root ::= "{forced}"')
    assert reply.text == forced
