"""Console: a command's result on stdout, never with terminal escapes when colour is off."""

from __future__ import annotations

import io

import pytest

from entrasync.console import Console


@pytest.mark.parametrize(
    ("text", "printed"),
    [
        ("Plan: 1 to create\n  + create ada", "Plan: 1 to create\n  + create ada\n"),
        ("\x1b[31mred\x1b[0m and plain", "red and plain\n"),
    ],
)
def test_a_result_without_colour_carries_no_ansi_codes(text: str, printed: str) -> None:
    out = io.StringIO()  # not a terminal: no colour
    Console(out=out, err=io.StringIO()).result(text)
    assert out.getvalue() == printed


@pytest.mark.parametrize(
    "text", ["Plan: 1 to create", "Plan: 1 to create\n", "Plan: 1 to create\n\n"]
)
def test_a_result_ends_in_exactly_one_newline(text: str) -> None:
    out = io.StringIO()
    Console(out=out, err=io.StringIO()).result(text)
    assert out.getvalue() == "Plan: 1 to create\n"
