from __future__ import annotations

import csv
import io
import json
import unicodedata

import pytest

from entrasync.core.plan import Access
from entrasync.core.users_view import Grant, UserRow, UserStatus
from entrasync.render.users import (
    CSV_COLUMNS,
    render_users_csv,
    render_users_json,
    render_users_text,
)

ROWS = (
    UserRow("alice@contoso.com", "Alice Smith", UserStatus.IN_SYNC,
            Access("member", ("trustgate",), True), Grant("member", ("trustgate",)),
            ("NT-Platform",), "NT-Platform"),
    UserRow("bob@contoso.com", "Bob Jones", UserStatus.DRIFT, Access("member", (), True),
            Grant("admin", None), ("NT-Admins", "NT-Platform"), "NT-Admins"),
    UserRow("carol@contoso.com", "Carol White", UserStatus.TO_CREATE, None,
            Grant("owner", None), ("NT-Owners",), "NT-Owners"),
    UserRow("=cmd|' /c calc'!a0", "@SUM(1+1)", UserStatus.ORPHAN, Access("admin", None, True),
            None),
    UserRow("gina@contoso.com", "Gina\x1b[31m", UserStatus.INACTIVE,
            Access("admin", None, False), None),
)  # fmt: skip


def test_json_is_a_list_of_objects_with_exactly_the_contract_keys() -> None:
    data = json.loads(render_users_json(ROWS))
    keys = {"user", "display_name", "status", "current", "desired", "groups", "decided_by"}
    assert [set(item) for item in data] == [keys] * len(ROWS)
    assert data[1]["current"] == {"role": "member", "products": [], "active": True}
    assert data[1]["desired"] == {"role": "admin", "products": None}
    assert data[2]["current"] is None
    assert data[3]["desired"] is None
    assert [item["status"] for item in data] == [
        "in_sync", "drift", "to_create", "orphan", "inactive",
    ]  # fmt: skip


def test_csv_has_a_header_and_one_row_per_user() -> None:
    rows = list(csv.reader(io.StringIO(render_users_csv(ROWS))))
    assert rows[0] == [  # as docs/plan-and-audit.md documents them: scripts read these names
        "user", "display_name", "status", "current_role", "current_products", "current_active",
        "desired_role", "desired_products", "groups", "decided_by",
    ]  # fmt: skip
    assert rows[2] == [
        "bob@contoso.com", "Bob Jones", "drift", "member", "", "true", "admin", "",
        "NT-Admins;NT-Platform", "NT-Admins",
    ]  # fmt: skip
    assert rows[3][3:6] == ["", "", ""]  # nothing current for a user to create


@pytest.mark.parametrize(
    ("column", "value"),
    [(0, "'=cmd|' /c calc'!a0"), (1, "'@SUM(1+1)")],
    ids=["a user starting with = is not a formula", "a name starting with @ is not a formula"],
)
def test_csv_cells_cannot_become_spreadsheet_formulas(column: int, value: str) -> None:
    rows = list(csv.reader(io.StringIO(render_users_csv(ROWS))))
    assert rows[4][column] == value


@pytest.mark.parametrize(
    "text",
    ['=HYPERLINK("https://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)"],
    ids=[
        "a cell starting with = gets a leading quote",
        "a cell starting with + gets a leading quote",
        "a cell starting with - gets a leading quote",
        "a cell starting with @ gets a leading quote",
    ],
)
def test_every_directory_cell_is_defused(text: str) -> None:
    row = UserRow(text, text, UserStatus.IN_SYNC, Access("member", (), True),
                  Grant("member", ()), (text,), text)  # fmt: skip
    (cells,) = list(csv.reader(io.StringIO(render_users_csv([row]))))[1:]
    named = dict(zip(CSV_COLUMNS, cells, strict=True))
    for column in ("user", "display_name", "groups", "decided_by"):
        assert named[column] == "'" + text, column


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Bob;=1+1", "Bob;'=1+1"),
        ('x";=2+2', "x\";'=2+2"),
        ("APP;+SUM(A1);@x", "APP;'+SUM(A1);'@x"),
        ("a;;-1", "a;;'-1"),
    ],
    ids=["after a semicolon", "after a quote and a semicolon", "two parts", "an empty part"],
)
def test_no_cell_starts_a_formula_where_the_spreadsheet_splits_on_semicolons(
    text: str, shown: str
) -> None:
    """Many locales list with `;`: the part of a name after one was a cell of its own there."""
    row = UserRow(text, text, UserStatus.IN_SYNC, Access("member", (text,), True),
                  Grant("member", (text,)), (text, "NT"), text)  # fmt: skip
    rendered = render_users_csv([row])
    for delimiter in (",", ";"):
        for cells in csv.reader(io.StringIO(rendered), delimiter=delimiter):
            assert not [c for c in cells if c.lstrip('"').startswith(("=", "+", "-", "@"))], cells
    (cells,) = list(csv.reader(io.StringIO(rendered)))[1:]
    assert cells[1] == shown  # display_name


HOSTILE = "\n::error::pwned\x1b[2J\x1b]8;;https://evil\x07click\x1b]8;;\x07\u202e\r\t##[add-mask]x"
SHOWN = (
    "\\x0a::error::pwned\\x1b[2J\\x1b]8;;https://evil\\x07click\\x1b]8;;\\x07\\u202e"
    "\\x0d\\x09##\\x5badd-mask]x"
)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (HOSTILE, SHOWN),
        ("\t=1", "\\x09=1"),
        ("\r=1", "\\x0d=1"),
        ("::error::pwned", "\\x3a:error::pwned"),
    ],
    ids=[
        "controls, OSC-8, bidi and workflow commands are shown escaped",
        "a leading tab is escaped, so it cannot hide a formula",
        "a leading carriage return is escaped, so it cannot hide a formula",
        "a cell cannot start a line with a workflow command",
    ],
)
def test_every_csv_cell_is_one_inert_line(text: str, shown: str) -> None:
    row = UserRow(text, text, UserStatus.IN_SYNC, Access(text, (text,), True),
                  Grant(text, (text,)), (text,), text)  # fmt: skip
    written = render_users_csv([row])
    assert written.count("\r\n") == 2  # the header's line break and the row's
    for raw in ("\x1b", "\x07", "\u202e", "\t", "\n::", "##["):
        assert raw not in written
    (cells,) = list(csv.reader(io.StringIO(written)))[1:]
    named = dict(zip(CSV_COLUMNS, cells, strict=True))
    for column in ("user", "display_name", "current_role", "current_products", "desired_role",
                   "desired_products", "groups", "decided_by"):  # fmt: skip
        assert named[column] == shown, column


def test_json_keeps_every_value_but_spells_bidi_and_c1_controls_as_escapes() -> None:
    text = "Eve\u202eevil\x9b2J\x1b[2J\n::error::x\u2066"
    row = UserRow(text, text, UserStatus.ORPHAN, None, None, (text,), text)
    written = render_users_json([row])
    for raw in ("\u202e", "\x9b", "\x1b", "\u2066"):
        assert raw not in written
    assert "\\u202e" in written
    assert json.loads(written) == [row.to_json()]


def test_a_plain_cell_is_written_as_is() -> None:
    row = UserRow("dana@contoso.com", "Dana O'Neil", UserStatus.ORPHAN, None, None)
    (cells,) = list(csv.reader(io.StringIO(render_users_csv([row]))))[1:]
    assert cells[:2] == ["dana@contoso.com", "Dana O'Neil"]


def test_text_is_an_aligned_table_with_a_tally() -> None:
    lines = render_users_text(ROWS).splitlines()
    assert lines[0].split()[:3] == ["STATUS", "USER", "DISPLAY"]
    assert lines[2].startswith("drift ")
    assert "member [] " in lines[2]
    assert " admin " in lines[2]
    assert lines[4].index("-") == lines[0].index("DESIRED")  # nothing desired for an orphan
    assert lines[-1] == "5 users: 1 in_sync, 1 drift, 1 orphan, 1 to_create, 1 inactive."


def test_text_columns_line_up_as_a_terminal_shows_wide_and_combining_characters() -> None:
    # A CJK name takes two columns a character, a combining accent none: counted as one
    # column each, every column after such a name was shifted.
    rows = [
        UserRow(user, name, UserStatus.IN_SYNC, None, None)
        for user, name in (
            ("taro@contoso.com", "山田太郎"),
            ("zoe@contoso.com", "Zoe\u0301 Smith"),  # é spelt as e and a combining accent
            ("bob@contoso.com", "Bob Jones"),
            ("ali@contoso.com", "Ali\u200creza"),  # a zero-width non-joiner, as Persian writes
            ("fam@contoso.com", "Fam \U0001f468\u200d\U0001f469"),  # emoji joined: ZWJ
            ("kai@contoso.com", "Kommunikations\u00adabteilung"),  # a soft hyphen: drawn
        )
    ]
    lines = render_users_text(rows).splitlines()[1:7]
    current = [line.index(" - ") for line in lines]  # where the CURRENT column starts
    assert current[0] < current[2] < current[1]  # 4 characters, 8 columns; 11, 10; 9, 9
    assert len({shown_width(line[:at]) for line, at in zip(lines, current, strict=True)}) == 1


def shown_width(text: str) -> int:
    """As glibc's wcswidth counts the columns a terminal draws."""
    return sum(
        0
        if unicodedata.combining(c) or (unicodedata.category(c) == "Cf" and c != "\u00ad")
        else 2
        if unicodedata.east_asian_width(c) == "W"
        else 1
        for c in text
    )


def test_text_has_colour_only_when_asked_and_never_from_the_directory() -> None:
    plain = render_users_text(ROWS)
    assert "\x1b" not in plain
    assert "\x1b[33m" in render_users_text(ROWS, color=True)  # drift in yellow


def test_the_tally_counts_users_in_the_right_number() -> None:
    assert render_users_text([]).splitlines()[-1] == "0 users."
    assert render_users_text(ROWS[:1]).splitlines()[-1] == "1 user: 1 in_sync."
    assert json.loads(render_users_json([])) == []


def test_each_item_of_a_list_cell_is_defused_not_only_the_first() -> None:
    # Spreadsheets in locales whose list separator is ";" split the cell into one per item.
    row = UserRow("a@contoso.com", "A", UserStatus.IN_SYNC, Access("member", ("x", "=1+1"), True),
                  Grant("member", ("x", "@SUM(A1)")), ("NT-A", "+cmd"), "NT-A")  # fmt: skip
    (cells,) = list(csv.reader(io.StringIO(render_users_csv([row]))))[1:]
    named = dict(zip(CSV_COLUMNS, cells, strict=True))
    assert named["groups"] == "NT-A;'+cmd"
    assert named["current_products"] == "x;'=1+1"
    assert named["desired_products"] == "x;'@SUM(A1)"


def test_a_user_named_with_blanks_around_it_is_shown_quoted_in_the_table() -> None:
    # Beside the real carol@contoso.com, NeuralTrust's "carol@contoso.com\u00a0" is another user.
    twin = UserRow(
        "carol@contoso.com\u00a0",
        "Carol White",
        UserStatus.ORPHAN,
        Access("member", (), True),
        None,
    )
    lines = render_users_text((ROWS[2], twin)).splitlines()
    assert any(" 'carol@contoso.com\u00a0' " in line for line in lines)
    assert sum("carol@contoso.com " in line for line in lines) == 1  # the real one, unquoted
