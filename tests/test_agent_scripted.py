"""The scripted backend replays a real TOML answer file, streaming like a model."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfsup.agent.backend import ChatMessage, ModelBackend, ModelUnavailable, ScriptExhausted
from perfsup.agent.edits import parse_answer
from perfsup.agent.scripted import ScriptedBackend
from perfsup.agent.tokens import estimate_tokens

ANSWERS = """\
[[answer]]
description_hint = "first idea"
text = '''
DESCRIPTION: compile the pattern once
src/words.py
<<<<<<< SEARCH
    return re.findall(r"\\w+", line)
=======
    return _WORD.findall(line)
>>>>>>> REPLACE
'''

[[answer]]
text = "DESCRIPTION: second idea, a one-liner that is not an edit"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "answers.toml"
    path.write_text(text)
    return path


def test_replays_in_order_streaming_chunks_that_join_to_the_text(tmp_path: Path) -> None:
    backend = ScriptedBackend(write(tmp_path, ANSWERS))
    typed: ModelBackend = backend  # it satisfies the protocol
    assert typed.name == "scripted:answers.toml"
    messages = [ChatMessage("system", "x" * 400), ChatMessage("user", "y" * 40)]
    chunks: list[str] = []
    first = backend.complete(messages, on_token=chunks.append, seed=3)
    assert "".join(chunks) == first.text
    assert len(chunks) > 5 and all(len(c.split()) <= 3 for c in chunks)
    assert parse_answer(first.text).description == "compile the pattern once"
    assert first.prompt_tokens == 110
    assert first.completion_tokens == estimate_tokens(first.text)
    assert first.cached_tokens is None
    assert 0.0 <= first.ttft_s <= first.total_s
    second = backend.complete(messages)
    assert second.text.startswith("DESCRIPTION: second idea")
    assert backend.remaining == 0


def test_chunk_delay_is_measured(tmp_path: Path) -> None:
    backend = ScriptedBackend(write(tmp_path, ANSWERS), chunk_delay_s=0.002)
    reply = backend.complete([ChatMessage("user", "go")])
    assert reply.ttft_s >= 0.002 and reply.total_s > reply.ttft_s


def test_exhausted_script(tmp_path: Path) -> None:
    backend = ScriptedBackend(write(tmp_path, ANSWERS))
    backend.complete([])
    backend.complete([])
    with pytest.raises(ScriptExhausted) as info:
        backend.complete([])
    assert isinstance(info.value, ModelUnavailable)
    assert str(info.value) == (
        f"the scripted answer file {tmp_path / 'answers.toml'} has no answers left (2 used)"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[answer]]\ntext = '''unclosed", "TOML syntax error"),
        ("", "no answers"),
        ("answer = 'x'\n", "no answers"),
        ("[[answer]]\ndescription_hint = 'x'\n", "answer 1 has no text"),
        ("[[answer]]\ntext = '   '\n", "answer 1 has no text"),
        (
            "[[answer]]\ntext = 'a'\n[[answer]]\ntext = 'b'\nmodel = 'x'\n",
            "answer 2 has unknown key",
        ),
        ("title = 'x'\n[[answer]]\ntext = 'a'\n", "unknown top-level key(s) title"),
        ("[[answer]]\ntext = 3\n", "answer 1 has no text"),
    ],
)
def test_bad_files_name_file_and_problem(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ValueError) as info:
        ScriptedBackend(path)
    assert str(info.value).startswith(f"{path}: ")
    assert expected in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read the scripted answer file"):
        ScriptedBackend(tmp_path / "nope.toml")


def test_estimate_tokens() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abc") == 1
    assert estimate_tokens("abcd" * 10) == 10
