"""A grammar that checks the likely tokens first (for the llama.cpp child only).

llama-cpp-python puts llama.cpp's grammar sampler before top-k in its
sampler chain, so every token of an answer checks the grammar against the
whole vocabulary: 262,144 tokens for Gemma, which made a grammar retry
decode about twenty times slower than a free answer (0.9 s against 0.04 s
a token on two cores). llama.cpp's own tools check the sampled token first
and the whole vocabulary only when it is refused; this does the same with
a shortlist: the grammar judges the `shortlist` tokens of highest logit,
and only when it refuses every one of them does it judge them all.

The result is a logits processor (llama-cpp-python's extension point):
refused tokens get -inf, so the samplers after it (top-k, temperature)
choose among the tokens the grammar allows. The grammar follows the answer
by accepting each token the completion added since its last call.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

__all__ = ["SHORTLIST", "LazyGrammar"]

# Well above llama-cpp-python's default top-k (40): the samplers after this see
# the grammar's allowed tokens among the 256 most likely.
SHORTLIST = 256
_TOKEN_DATA = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)], align=True)


class LazyGrammar:
    """A logits processor enforcing a GBNF grammar, shortlist first."""

    def __init__(
        self, llm: Any, grammar_text: str, root: str, prompt_tokens: int, shortlist: int = SHORTLIST
    ) -> None:
        import llama_cpp

        self._c = llama_cpp
        self._llm = llm
        self._prompt_tokens = prompt_tokens
        self._accepted = 0  # answer tokens the grammar has followed
        self._shortlist = shortlist
        self._sampler = llama_cpp.llama_sampler_init_grammar(
            llm._model.vocab, grammar_text.encode("utf-8"), root.encode("utf-8")
        )
        if not self._sampler:
            raise ValueError("the grammar does not parse")
        self.full_checks = 0  # tokens for which the shortlist held nothing allowed

    def close(self) -> None:
        if self._sampler:
            self._c.llama_sampler_free(self._sampler)
            self._sampler = None

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        answer = input_ids[self._prompt_tokens :]
        for token in answer[self._accepted :]:
            self._c.llama_sampler_accept(self._sampler, int(token))
        self._accepted = len(answer)
        count = min(self._shortlist, scores.shape[0])
        likely = np.argpartition(scores, -count)[-count:]
        allowed = self._allowed(likely, scores)
        if allowed is None:  # nothing likely is allowed: judge the whole vocabulary
            self.full_checks += 1
            allowed = self._allowed(np.arange(scores.shape[0]), scores)
        kept = np.full_like(scores, -np.inf)
        if allowed is not None:
            kept[allowed] = scores[allowed]
        return kept

    def _allowed(self, tokens: np.ndarray, scores: np.ndarray) -> np.ndarray | None:
        """The tokens among `tokens` the grammar allows next (None: not one)."""
        c = self._c
        rows = np.zeros(len(tokens), dtype=_TOKEN_DATA)  # llama_token_data's layout
        rows["id"] = tokens
        rows["logit"] = scores[tokens]
        array = c.llama_token_data_array(
            data=rows.ctypes.data_as(ctypes.POINTER(c.llama_token_data)),
            size=len(tokens),
            selected=-1,
            sorted=False,
        )
        c.llama_sampler_apply(self._sampler, ctypes.byref(array))  # refused: logit -inf
        keep = np.isfinite(rows["logit"])
        return tokens[keep] if keep.any() else None
