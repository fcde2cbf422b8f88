"""Decisions about what the model is shown and how it answers, per run.

`choose_edit_format` picks the edit format for edit_format = "auto" from
the model's size: small models (under 7B parameters) break search/replace
blocks far more often than they break a whole-region rewrite, so they get
regions; larger models get search/replace, which spends fewer tokens.
A model of unknown size gets search/replace.
"""

from __future__ import annotations

from typing import Literal

SMALL_MODEL_PARAMS = 7e9

EditFormatSetting = Literal["auto", "search_replace", "region"]


def choose_edit_format(
    setting: EditFormatSetting, parameter_count: float | None
) -> Literal["search_replace", "region"]:
    """The edit format a run uses; see the module docstring."""
    if setting != "auto":
        return setting
    if parameter_count is not None and parameter_count < SMALL_MODEL_PARAMS:
        return "region"
    return "search_replace"
