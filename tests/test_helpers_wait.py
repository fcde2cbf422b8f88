"""The one polling helper the tests wait with: what it returns and how it fails."""

from __future__ import annotations

import itertools

import pytest

from tests.helpers import holds_throughout, returns_in_time, wait_until


def test_wait_until_returns_the_first_truthy_value() -> None:
    counter = itertools.count()
    assert wait_until(lambda: next(counter) >= 3 and "ready", what="three polls") == "ready"


def test_wait_until_names_what_it_waited_for_and_what_it_saw_last() -> None:
    with pytest.raises(AssertionError, match=r"waiting for the bench to start; last seen:\nidle"):
        wait_until(lambda: False, what="the bench to start", timeout=0.1, detail=lambda: "idle")


def test_holds_throughout_fails_when_the_condition_breaks() -> None:
    counter = itertools.count()
    with pytest.raises(AssertionError, match="no bench process stopped holding"):
        holds_throughout(lambda: next(counter) < 2, what="no bench process", seconds=5)


def test_returns_in_time_passes_on_the_result_and_the_error() -> None:
    assert returns_in_time(lambda: 42, what="the answer") == 42
    with pytest.raises(ZeroDivisionError):
        returns_in_time(lambda: 1 / 0, what="a division")
