"""plural(): counted nouns in user-facing messages."""

from __future__ import annotations

import pytest

from entrasync.core.wording import plural


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
