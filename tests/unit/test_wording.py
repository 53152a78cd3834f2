"""plural(), joined() and clipped(): counted nouns and lists cut short in user-facing messages."""

from __future__ import annotations

import pytest

from entrasync.core.wording import clipped, joined, plural


@pytest.mark.parametrize(
    ("count", "noun", "many", "expected"),
    [
        pytest.param(0, "user", None, "0 users", id="none takes the plural"),
        pytest.param(1, "user", None, "1 user", id="one takes the singular"),
        pytest.param(2, "active managed user", None, "2 active managed users",
                     id="many takes the plural on the last word"),
        pytest.param(1, "safety limit", None, "1 safety limit", id="one limit is singular"),
        pytest.param(3, "entry", "entries", "3 entries", id="an irregular plural is given"),
    ],
)  # fmt: skip
def test_plural(count: int, noun: str, many: str | None, expected: str) -> None:
    assert plural(count, noun, many) == expected


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        pytest.param(0, "", id="none is empty"),
        pytest.param(1, "u0", id="one is named"),
        pytest.param(5, "u0 and u1 and u2 and u3 and u4", id="five are all named"),
        pytest.param(6, "u0 and u1 and u2 and u3 and u4 and 1 more", id="the sixth is counted"),
        pytest.param(4000, "u0 and u1 and u2 and u3 and u4 and 3995 more",
                     id="thousands are counted, not named"),
    ],
)  # fmt: skip
def test_joined_names_five_and_counts_the_rest(count: int, expected: str) -> None:
    assert joined([f"u{i}" for i in range(count)]) == expected


def test_joined_takes_its_separators_and_bound() -> None:
    assert joined(["a", "b", "c"], at_most=2, sep=", ", more="; ") == "a, b; 1 more"
    assert joined(["a", "b"], at_most=2, sep=", ", more="; ") == "a, b"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("x" * 60, "x" * 60, id="sixty characters are kept whole"),
        pytest.param("x" * 61, "x" * 57 + "...", id="sixty-one are cut to sixty"),
        pytest.param("", "", id="empty stays empty"),
    ],
)  # fmt: skip
def test_clipped_keeps_sixty_characters_at_most(text: str, expected: str) -> None:
    assert clipped(text) == expected
    assert len(clipped(text)) <= 60
