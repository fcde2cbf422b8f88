"""The llama.cpp child process: one model, JSON lines on stdin and stdout.

Run as `python -m perfsup.agent.llama_child MODEL.gguf N_CTX THREADS`. The
parent (`llama_backend.py`) talks to it; llama.cpp's own chatter goes to
this process's stderr, which the parent sends to a log file, and a native
crash ends only this process.

Protocol, one JSON object per line:
- on start: {"ready": true, "n_params": int, "has_system_role": bool, "template": str}
  (and "chat_format", "architecture") or {"fatal": "why"} before exiting;
- request {"op": "chat", "messages": [...], "max_tokens": int, "temperature": float,
  "seed": int | null, "grammar": str | null, "forbid_unchanged": {...} | null (optional;
  see `perfsup.agent.unchanged`)}: replies {"reading": n, "of": total} while it reads
  the prompt, {"token": "..."} per piece, then
  {"done": true, "prompt_tokens", "completion_tokens", "cached_tokens", "ttft_s",
  "total_s", "answer_limit", "truncated"}, or {"error": "why"};
- request {"op": "count", "text": str}: {"tokens": int}.

The chat is formatted here with the model's own template (from the GGUF),
the system message folded into the first user turn when the template has
no system role, and tokens are counted with the model's tokenizer because
streamed chunks carry no usage.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from typing import Any, TextIO

from perfsup.agent.lazy_grammar import LazyGrammar
from perfsup.agent.unchanged import ForbidUnchanged, UnchangedGuard

# Chat formats for GGUF files that carry no template of their own, by the
# model's architecture (general.architecture). Gemma has no system turn.
GEMMA = "gemma"
CHATML = "chatml"
REPEAT_PENALTY = 1.1  # small models loop on one line without it
_BY_ARCHITECTURE = {"gemma": GEMMA, "gemma2": GEMMA, "gemma3": GEMMA}


def fold_system(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """The system message(s) put in front of the first user turn, for templates without them."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if not system:
        return rest
    for message in rest:
        if message["role"] == "user":
            message["content"] = f"{system}\n\n{message['content']}"
            return rest
    return [{"role": "user", "content": system}, *rest]


def template_has_system_role(template: str) -> bool:
    """Whether a Jinja chat template renders a system turn of its own.

    Gemma's templates have none (they fold the system text into the first
    user turn, or raise "System role not supported"); ChatML and Llama 3
    templates print it.
    """
    lowered = template.lower()
    if "system" not in lowered:
        return False
    return not ("first_user_prefix" in lowered or "system role not supported" in lowered)


def builtin_format(architecture: str) -> str:
    """The chat format for a GGUF without a template: Gemma's for Gemma, else ChatML."""
    return _BY_ARCHITECTURE.get(architecture.lower(), CHATML)


def format_builtin(style: str, messages: list[dict[str, str]]) -> tuple[str, list[str]]:
    """The prompt and stop strings of a built-in chat format (the tokenizer adds BOS)."""
    if style == GEMMA:
        turns = [
            f"<start_of_turn>{'model' if m['role'] == 'assistant' else 'user'}\n"
            f"{m['content']}<end_of_turn>\n"
            for m in fold_system(messages)
        ]
        return "".join(turns) + "<start_of_turn>model\n", ["<end_of_turn>"]
    turns = [f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages]
    return "".join(turns) + "<|im_start|>assistant\n", ["<|im_end|>"]


def main(argv: list[str], out: TextIO = sys.stdout) -> int:
    path, n_ctx, threads = argv[0], int(argv[1]), int(argv[2])

    def send(obj: dict[str, Any]) -> None:
        out.write(json.dumps(obj) + "\n")
        out.flush()

    try:
        from llama_cpp import Llama, LlamaGrammar
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        llm = Llama(
            model_path=path,
            n_ctx=n_ctx,
            n_threads=threads or None,
            verbose=False,
        )
    except Exception as exc:
        send({"fatal": f"cannot load {path}: {exc}"})
        return 1
    template = str(llm.metadata.get("tokenizer.chat_template", "") or "")
    architecture = str(llm.metadata.get("general.architecture", ""))
    if template:
        has_system = template_has_system_role(template)
        eos = llm.detokenize([llm.token_eos()], special=True).decode("utf-8", errors="ignore")
        # BOS comes from the tokenizer (add_bos), so the template must not write it too
        formatter = Jinja2ChatFormatter(template, eos_token=eos, bos_token="")

        def render(messages: list[dict[str, str]]) -> tuple[str, list[str]]:
            chat = messages if has_system else fold_system(messages)
            formatted = formatter(messages=chat)  # type: ignore[arg-type]
            stop = formatted.stop
            return formatted.prompt, [stop] if isinstance(stop, str) else list(stop or [])

        style = "gguf template"
    else:
        style = builtin_format(architecture)
        has_system = style != GEMMA

        def render(messages: list[dict[str, str]]) -> tuple[str, list[str]]:
            return format_builtin(style, messages)

    send(
        {
            "ready": True,
            "n_params": int(llm._model.n_params()),
            "has_system_role": has_system,
            "chat_format": style,
            "architecture": architecture,
        }
    )
    for line in sys.stdin:
        try:
            request = json.loads(line)
        except json.JSONDecodeError:
            send({"error": "the request is not JSON"})
            continue
        if request.get("op") == "count":
            send({"tokens": len(llm.tokenize(request["text"].encode(), add_bos=False))})
            continue
        try:
            _chat(llm, render, request, send, LlamaGrammar)
        except Exception as exc:
            send({"error": f"{type(exc).__name__}: {exc}"})
    return 0


def _chat(llm: Any, render: Any, request: dict[str, Any], send: Any, grammar_cls: Any) -> None:
    prompt, stop = render(request["messages"])
    tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
    if len(tokens) + 8 > llm.n_ctx():
        limit = llm.n_ctx()
        send({"error": f"the prompt has {len(tokens)} tokens, more than the context of {limit}"})
        return
    cached = llm.longest_token_prefix(llm._input_ids.tolist(), tokens)
    grammar = (
        grammar_cls.from_string(request["grammar"], verbose=False)
        if request.get("grammar")
        else None
    )
    room = llm.n_ctx() - len(tokens)
    forbid = request.get("forbid_unchanged")
    processors = (
        _forbid_unchanged(llm, ForbidUnchanged.from_json(forbid), len(tokens)) if forbid else None
    )
    lazy = None
    if grammar is not None:  # checked shortlist first, after the forbid mask (lazy_grammar.py)
        from llama_cpp import LogitsProcessorList

        lazy = LazyGrammar(llm, grammar._grammar, grammar._root, len(tokens))
        processors = LogitsProcessorList([*(processors or []), lazy])
    # a grammar bounds its answer itself: it may use the whole room left, so that
    # it always reaches its closing line; a free answer keeps the answer budget
    limit = room if grammar is not None else min(int(request["max_tokens"]), room)
    started = time.monotonic()  # the first token's time includes reading the prompt
    _read_prompt(llm, tokens, cached, send)
    first: float | None = None
    finish: str | None = None
    parts: list[str] = []
    stream = llm.create_completion(
        tokens,
        max_tokens=limit,
        temperature=float(request.get("temperature", 0.2)),
        seed=request.get("seed"),
        stop=stop or None,
        logits_processor=processors,
        repeat_penalty=REPEAT_PENALTY,
        stream=True,
    )
    try:
        for chunk in stream:
            finish = chunk["choices"][0].get("finish_reason") or finish
            text = chunk["choices"][0]["text"]
            if text:
                if first is None:
                    first = time.monotonic() - started
                parts.append(text)
                send({"token": text})
    finally:
        if lazy is not None:
            lazy.close()
    total = time.monotonic() - started
    answer = "".join(parts)
    send(
        {
            "done": True,
            "prompt_tokens": len(tokens),
            "completion_tokens": len(llm.tokenize(answer.encode("utf-8"), add_bos=False)),
            "cached_tokens": int(cached),
            "ttft_s": first if first is not None else total,
            "total_s": total,
            "answer_limit": limit,
            "truncated": finish == "length",
        }
    )


def _read_prompt(llm: Any, tokens: list[int], cached: int, send: Any) -> None:
    """Read the prompt's new part batch by batch, saying after each how far it got.

    On a loaded machine a long prompt takes minutes to read: the progress
    lines tell the parent the child is working, not stuck. The completion
    that follows finds all but the last token in the cache.
    """
    end = len(tokens) - 1
    llm.n_tokens = min(cached, end)  # the cache beyond it is dropped by eval
    while llm.n_tokens < end:
        llm.eval(tokens[llm.n_tokens : min(end, llm.n_tokens + llm.n_batch)])
        send({"reading": llm.n_tokens, "of": len(tokens)})


@functools.lru_cache(maxsize=1)
def _token_pieces(llm: Any) -> list[bytes]:
    """The text of every token of the model (about a second for Gemma's 262k tokens, once)."""
    return [llm.detokenize([i]) for i in range(llm.n_vocab())]


def _forbid_unchanged(llm: Any, rule: ForbidUnchanged, prompt_tokens: int) -> Any:
    """A logits processor that masks the tokens closing an unchanged copy (see the rule's module).

    llama-cpp-python runs it before the grammar and the other samplers, on the
    logits of the whole vocabulary in token order, with every token so far.
    """
    import numpy as np
    from llama_cpp import LogitsProcessorList

    guard = UnchangedGuard(_token_pieces(llm), llm.token_eos(), rule)

    def mask(input_ids: Any, scores: Any) -> Any:
        answer = b"".join(guard.pieces[i] for i in input_ids[prompt_tokens:])
        banned = guard.banned(answer)
        if banned:
            scores[banned] = -np.inf
        return scores

    return LogitsProcessorList([mask])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
