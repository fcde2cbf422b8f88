"""A grammar retry cannot close an unchanged copy of the code.

The rule (`UnchangedGuard`) is checked on hand-made token pieces and on the
real tokenizer of the small model; `unchanged_regions` is checked to name
exactly the copies that apply would refuse as changing nothing; `propose`
is checked to send the rule with the grammar on its retries.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from perfsup.agent.apply import EditDoesNotApply, apply_edit
from perfsup.agent.backend import ChatMessage, ModelReply
from perfsup.agent.edits import parse_answer
from perfsup.agent.grammar import forbid_unchanged, region_names, unchanged_regions
from perfsup.agent.unchanged import ForbidUnchanged, UnchangedGuard
from perfsup.config import AccessRules
from perfsup.engine.proposal import propose
from tests.llama_model import small_gguf

DEMO = Path(__file__).resolve().parents[1] / "perfsup" / "demo" / "target" / "textstats"
DEMO_FILES = {f"textstats/{p.name}": p.read_text() for p in sorted(DEMO.glob("*.py"))}

COPY = "REGION: a.py::f\n```python\ndef f(x):\n    return x\n"
# token 0 is end-of-stream (no text); the others are pieces a tokenizer might have
PIECES = [b"", b"`", b"```", b"\n```", b"``\n", b"\n", b"    ", b"return", b" y", b">", b">>>>"]
EOS = 0


def _ids(*pieces: bytes) -> list[int]:
    return sorted(PIECES.index(p) for p in pieces)


def test_the_tokens_closing_an_unchanged_region_are_banned_and_only_there() -> None:
    guard = UnchangedGuard(PIECES, EOS, ForbidUnchanged(regions=(COPY,)))
    answer = b"DESCRIPTION: faster\n" + COPY.encode()
    # the copy is complete: any token starting the closing fence, and the end, are banned
    assert sorted(guard.banned(answer)) == _ids(b"", b"`", b"```", b"``\n")
    # one newline short: only a token that writes the newline and the fence at once
    assert guard.banned(answer[:-1]) == _ids(b"\n```")
    # further back, or after the copy changed, nothing is banned
    assert guard.banned(answer[:-5]) == []
    assert guard.banned(answer.replace(b"return x", b"return y")) == []
    assert guard.banned(answer + b"    return x\n") == []
    # another region's copy is not this one
    assert guard.banned(answer.replace(b"a.py::f", b"a.py::g")) == []


def test_a_replacement_repeating_its_search_text_cannot_close() -> None:
    rule = ForbidUnchanged(search_replace_lines=3)
    guard = UnchangedGuard(PIECES, EOS, rule)
    head = b"DESCRIPTION: faster\na.py\n<<<<<<< SEARCH\nx = 1\ny = 2\n=======\n"
    assert sorted(guard.banned(head + b"x = 1\ny = 2\n")) == _ids(b"", b">", b">>>>")
    assert guard.banned(head + b"x = 1\ny = 3\n") == []
    assert guard.banned(head + b"x = 1\n") == []  # still copying: only closing is banned
    # a SEARCH text as long as the limit is left alone (the grammar may have no room)
    long = b"a.py\n<<<<<<< SEARCH\n" + b"a\n" * 3 + b"=======\n" + b"a\n" * 3
    assert guard.banned(long) == []
    # without the search/replace rule, nothing is banned
    assert UnchangedGuard(PIECES, EOS, ForbidUnchanged()).banned(head + b"x = 1\ny = 2\n") == []


def test_the_rule_travels_as_json() -> None:
    rule = ForbidUnchanged(regions=(COPY,), search_replace_lines=8)
    assert ForbidUnchanged.from_json(rule.to_json()) == rule
    assert ForbidUnchanged.from_json({}) == ForbidUnchanged()


def test_on_the_small_models_tokenizer_only_the_closing_token_is_banned() -> None:
    llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    vocab = llama_cpp.Llama(model_path=str(small_gguf()), vocab_only=True, verbose=False)
    pieces = [vocab.detokenize([i]) for i in range(vocab.n_vocab())]
    (copy,) = [c for c in unchanged_regions(DEMO_FILES) if "::tokenize\n" in c]
    guard = UnchangedGuard(pieces, vocab.token_eos(), forbid_unchanged("region", DEMO_FILES))

    def banned_steps(answer: str) -> list[int]:
        ids = vocab.tokenize(answer.encode(), add_bos=False)
        assert b"".join(pieces[i] for i in ids) == answer.encode()  # pieces add up
        return [
            step
            for step, token in enumerate(ids)
            if token in guard.banned(b"".join(pieces[i] for i in ids[:step]))
        ]

    unchanged = f"DESCRIPTION: split faster\n{copy}```\n"
    steps = banned_steps(unchanged)
    ids = vocab.tokenize(unchanged.encode(), add_bos=False)
    assert len(steps) == 1  # the token that opens the closing fence, nothing before it
    assert b"`" in pieces[ids[steps[0]]]
    before = b"".join(pieces[i] for i in ids[: steps[0]])
    assert before.endswith((copy.encode(), copy.encode()[:-1]))  # the copy, maybe but its newline
    changed = unchanged.replace(".split()", ".split(' ')")
    assert banned_steps(changed) == []


def test_unchanged_regions_are_exactly_the_copies_apply_refuses(tmp_path: Path) -> None:
    copies = unchanged_regions(DEMO_FILES)
    names = [f"{p}::{n}" for p, text in DEMO_FILES.items() for n in region_names(p, text)]
    assert len(copies) == len(names) > 3
    for copy in copies:
        for rel, text in DEMO_FILES.items():
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / rel).write_text(text)
        edit = parse_answer(f"DESCRIPTION: same\n{copy}```\n")
        with pytest.raises(EditDoesNotApply, match="changes nothing"):
            apply_edit(tmp_path, edit)


def test_a_region_the_grammar_leaves_no_room_after_gets_no_rule() -> None:
    def function(name: str, statements: int) -> str:
        return f"def {name}(x):\n" + "".join(f"    x = x + {i}\n" for i in range(statements))

    files = {"a.py": function("full", 10) + "\n\n" + function("roomy", 9)}
    copies = unchanged_regions(files)
    assert [c.splitlines()[0] for c in copies] == ["REGION: a.py::roomy"]
    marked = {"b.txt": "# perfsup:begin blk\nkeep\n  this\n# perfsup:end blk\n"}
    assert unchanged_regions(marked) == ["REGION: b.txt::blk\n```\nkeep\n  this\n"]


class _Recorder:
    """A model that answers from a list and notes what each call was sent."""

    name = "recorder"
    supports_grammar = True

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers
        self.calls: list[tuple[str | None, ForbidUnchanged | None]] = []

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        on_token: Callable[[str], None] | None = None,
        seed: int | None = None,
        grammar: str | None = None,
        forbid_unchanged: ForbidUnchanged | None = None,
    ) -> ModelReply:
        self.calls.append((grammar, forbid_unchanged))
        text = self.answers[len(self.calls) - 1]
        return ModelReply(text, self.name, 10, 10, None, 0.0, 0.0)


def test_propose_sends_the_rule_with_the_grammar_after_an_unchanged_answer(
    tmp_path: Path,
) -> None:
    source = "def f(x):\n    return x\n"
    (tmp_path / "a.py").write_text(source)
    rule = forbid_unchanged("region", {"a.py": source})
    unchanged = f"DESCRIPTION: same\n{rule.regions[0]}```\n"
    changed = unchanged.replace("return x", "return x + 0")
    model = _Recorder([unchanged, changed])
    proposal = propose(
        backend=model,
        messages=[ChatMessage("user", "make it faster")],
        max_retries=1,
        worktree=tmp_path,
        rules=AccessRules(writable=["*.py"]),
        extra_protected=[],
        on_token=lambda _t: None,
        on_reply=lambda _r, _a: None,
        before_call=lambda: time.sleep(0),
        retry_grammar="root ::= ...",
        retry_forbid=rule,
    )
    assert proposal.edit is not None
    assert model.calls == [(None, None), ("root ::= ...", rule)]
    assert (tmp_path / "a.py").read_text() == "def f(x):\n    return x + 0\n"
