"""Failures by cause: the model's failures are retried differently, the target's end a night."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from sqlmodel import select

from perfsup.agent.backend import ChatMessage, ModelReply
from perfsup.agent.hotspots import HotSpot, rotated
from perfsup.agent.unchanged import ForbidUnchanged
from perfsup.config import AccessRules
from perfsup.engine.policy import (
    PolicyLimits,
    choose_parent,
    exhausted_reason,
    failures_in_a_row,
    model_failures_in_a_row,
)
from perfsup.engine.proposal import RetryFit, propose
from tests.test_policy import node

LIMITS = PolicyLimits(max_depth=3, max_children=3, max_failures_in_a_row=2)


def test_model_side_failures_neither_end_the_night_nor_fill_the_children() -> None:
    tree = [node("1")]
    tree += [node(f"1.{i}", "malformed") for i in range(1, 6)]
    tree.append(node("1.6", "crashed"))
    tree[-1].reason = "every model call failed (3); the last: no output for 300 s"
    assert failures_in_a_row([n for n in tree if n.parent_id == "1"]) == 0
    assert model_failures_in_a_row([n for n in tree if n.parent_id == "1"]) == 6
    assert choose_parent(tree, LIMITS).id == "1"  # type: ignore[union-attr]


def test_failed_changes_close_a_node_but_never_the_nights_last_open_one() -> None:
    tree = [node("1"), node("1.1", "build_failed"), node("1.2", "malformed")]
    tree.append(node("1.3", "checks_failed"))
    tree[1].reason = "SyntaxError in tabulate/__init__.py"
    tree[3].reason = "case 2 (pipe) differs"
    assert failures_in_a_row([n for n in tree if n.parent_id == "1"]) == 2
    assert model_failures_in_a_row([n for n in tree if n.parent_id == "1"]) == 0
    # The baseline is all that is open: it stays open, the budget ends the night.
    assert choose_parent(tree, LIMITS).id == "1"  # type: ignore[union-attr]
    # A kept child is open: the failures close the baseline and the search goes there.
    grown = [
        *tree,
        node("1.4", effect=0.1),
        node("1.5", "checks_failed"),
        node("1.6", "build_failed"),
    ]
    assert choose_parent(grown, LIMITS).id == "1.4"  # type: ignore[union-attr]
    # Once the children limit (the person's) is reached too, the ending names the failures.
    tree += [node("1.4", "checks_failed")]
    tree[-1].reason = "case 3 differs"
    assert choose_parent(tree, LIMITS) is None
    reason = exhausted_reason(tree, LIMITS)
    assert reason.startswith("no node left to expand: 1 after 3 failures in a row")
    assert "1.1 build_failed: SyntaxError in tabulate/__init__.py" in reason
    assert "1.3 checks_failed: case 2 (pipe) differs" in reason
    assert "1.4 checks_failed: case 3 differs" in reason
    assert "1.2" not in reason  # the malformed answer did not close the node


def test_after_model_failures_the_next_prompt_leads_with_another_hot_function() -> None:
    spots = [
        HotSpot("a.py", 10, "hot", 9, 0.9, 1.0),
        HotSpot("a.py", 50, "warm", 9, 0.5, 0.6),
        HotSpot("b.py", 5, "mild", 9, 0.1, 0.2),
    ]
    assert [s.function for s in rotated(spots, 0)] == ["hot", "warm", "mild"]
    assert [s.function for s in rotated(spots, 1)] == ["warm", "hot", "mild"]
    assert [s.function for s in rotated(spots, 5)] == ["mild", "hot", "warm"]


class _Answers:
    """A model that replays answers, each cut at its limit as a real one would be."""

    name = "fake"
    supports_grammar = True

    def __init__(self, answers: list[tuple[str, bool]]) -> None:
        self.answers = answers
        self.seen: list[list[ChatMessage]] = []

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        on_token: Callable[[str], None] | None = None,
        seed: int | None = None,
        grammar: str | None = None,
        forbid_unchanged: ForbidUnchanged | None = None,
    ) -> ModelReply:
        self.seen.append(list(messages))
        text, cut = self.answers.pop(0)
        reply = ModelReply(text, "fake", 10, len(text), None, 0.1, 0.2)
        reply.answer_limit, reply.truncated = 500, cut
        return reply


def test_a_truncated_answer_is_said_so_and_its_retry_fits_the_context(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("def f(x):\n    return x\n")
    cut_answer = "DESCRIPTION: faster\nREGION: a.py::f\n```python\n" + "    x = 1\n" * 400
    good = "DESCRIPTION: faster\nREGION: a.py::f\n```python\ndef f(x):\n    return x + 0\n```\n"
    model = _Answers([(cut_answer, True), (good, False)])
    problems: list[tuple[int, str]] = []
    ask = [ChatMessage("system", "s" * 400), ChatMessage("user", "u" * 400)]

    def count(text: str) -> int:
        return len(text) // 4 + 1

    proposal = propose(
        backend=model, messages=ask, max_retries=1, worktree=tmp_path,
        rules=AccessRules(writable=["a.py"]), extra_protected=[], on_token=lambda _t: None,
        on_reply=lambda _r, _a: None, before_call=lambda: None,
        on_unusable=lambda attempt, why: problems.append((attempt, why)),
        fit=RetryFit(count, context_tokens=1200, answer_tokens=500),
    )  # fmt: skip
    assert proposal.edit is not None
    ((attempt, why),) = problems
    assert attempt == 0 and why.startswith("truncated: the answer reached its limit of 500")
    assert "not closed by a ``` line" in why  # the parse error beneath the cut
    retry = model.seen[1]
    assert sum(count(m.content) + 4 for m in retry) + 500 <= 1200  # the answer room kept
    assert retry[:2] == ask and retry[2].role == "assistant"
    assert retry[2].content.endswith("[... the rest of this answer is not repeated]")
    assert "Write a shorter change." in retry[3].content


DEMO = Path(__file__).resolve().parent.parent / "perfsup" / "demo" / "target"
FILLER = "".join(f"def cold{i}(x: int) -> int:\n    return x * {i}\n\n\n" for i in range(80))


def _demo_with_answers(tmp_path: Path, answers: str, pad_core: bool = False) -> Path:
    """The demo as a fresh repository with these scripted answers, 3 experiments and
    max_failures_in_a_row = 1; its config's path."""
    import shutil

    from tests.helpers import git

    repo = tmp_path / "repo"
    shutil.copytree(DEMO, repo, ignore=shutil.ignore_patterns("__pycache__"))
    if pad_core:  # the hot code past line 300
        core = repo / "textstats" / "core.py"
        head, rest = core.read_text().split("\n\n\n", 1)
        core.write_text(f"{head}\n\n\n{FILLER}{rest}")
    (repo / "answers.toml").write_text(answers)
    git(tmp_path, "init", "-q", str(repo))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "demo")
    config_path = repo / "perfsup.toml"
    text = config_path.read_text().replace("max_experiments = 5", "max_experiments = 3")
    config_path.write_text(text.replace("[budgets]\n", "[budgets]\nmax_failures_in_a_row = 1\n"))
    return config_path


def test_a_night_of_malformed_answers_ends_by_its_budget_each_ask_differently(
    tmp_path: Path,
) -> None:
    """Through the engine, on the demo with a long core.py (hot code past line 300):
    the prompts carry a slice of the hot function, three malformed answers do not
    end the night even with max_failures_in_a_row = 1, and each next prompt
    carries a smaller slice."""
    from perfsup.store import RunStatus
    from tests.helpers import build_engine

    answers = "".join(
        f"[[answer]]\ntext = 'DESCRIPTION: idea {i}\\nnothing usable'\n" for i in range(3)
    )
    config_path = _demo_with_answers(tmp_path, answers, pad_core=True)
    text = config_path.read_text().replace(
        'backend = "scripted"', 'backend = "scripted"\nedit_format = "region"\nmax_retries = 0'
    )
    config_path.write_text(text + '\n[profile]\npython_script = "bench.py"\ntop = 8\n')
    engine = build_engine(config_path, tmp_path / "run")
    outcome = engine.run()
    engine.store.close()
    assert outcome.status == RunStatus.FINISHED
    assert outcome.reason.startswith("experiment budget reached"), outcome.reason
    prompts = [engine.paths.log(f"1.{i}", "prompt").read_text() for i in (1, 2, 3)]
    assert "### textstats/core.py (a slice of " in prompts[0]
    assert "def unknown_words(words: list[str], vocabulary: list[str]) -> list[str]:" in prompts[0]
    assert "def cold3(x: int) -> int:\n    return x * 3" not in prompts[0]  # not the whole file

    def core_slice(prompt: str) -> str:
        return prompt.split("### textstats/core.py", 1)[1].split("\n### ", 1)[0]

    slices = [core_slice(p) for p in prompts]
    # after each model-side failure a smaller slice (another hot function first, where
    # the profile has several in the files: see the rotation test above)
    assert "Outline of the rest of this file" in slices[0]
    assert "Outline of the rest of this file" not in slices[1]
    assert len(slices[0]) > len(slices[1]) >= len(slices[2])
    assert all("def unknown_words(" in piece for piece in slices)


BREAKS_CHECK = """DESCRIPTION: skip lower-casing, try {i}
textstats/core.py
<<<<<<< SEARCH
    return text.lower().translate(_DROP_PUNCTUATION)
=======
    return text.translate(_DROP_PUNCTUATION)  # try {i}
>>>>>>> REPLACE
"""


def test_changes_that_fail_the_check_on_the_baseline_do_not_end_the_night(
    tmp_path: Path,
) -> None:
    """Issue 17: four wrong changes of a small model closed the baseline, the only
    kept node, and the night ended in minutes. Through the engine on the demo, with
    max_failures_in_a_row = 1: three changes fail the check, the budget ends the run."""
    from perfsup.store import Node, RunStatus
    from tests.helpers import build_engine

    answers = "".join(f"[[answer]]\ntext = '''\n{BREAKS_CHECK.format(i=i)}'''\n" for i in range(3))
    config_path = _demo_with_answers(tmp_path, answers)
    engine = build_engine(config_path, tmp_path / "run")
    outcome = engine.run()
    with engine.store.session() as s:
        statuses = {n.id: n.status for n in s.exec(select(Node)).all()}
    engine.store.close()
    assert outcome.status == RunStatus.FINISHED
    assert outcome.reason.startswith("experiment budget reached"), outcome.reason
    assert [statuses[f"1.{i}"] for i in (1, 2, 3)] == ["checks_failed"] * 3
