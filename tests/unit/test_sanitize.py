"""sanitize: names from outside printed as one inert line, the neutralised characters visible."""

from __future__ import annotations

import json
import unicodedata

import pytest

from entrasync.core import sanitize


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Alice Smith", "Alice Smith"),
        ("wipe\x1b[2J", "wipe\\x1b[2J"),
        (
            "\x1b]8;;https://evil\x07click\x1b]8;;\x07",
            "\\x1b]8;;https://evil\\x07click\\x1b]8;;\\x07",
        ),
        ("txt.exe\u202egpj", "txt.exe\\u202egpj"),
        ("a\r\nb\tc", "a\\x0d\\x0ab\\x09c"),
        ("nul\x00del\x7fcsi\x9b", "nul\\x00del\\x7fcsi\\x9b"),
        ("iso\u2066late\u2069 mark\u200f\u061c", "iso\\u2066late\\u2069 mark\\u200f\\u061c"),
        ("line\u2028para\u2029", "line\\u2028para\\u2029"),
        ("zero\u200bwidth\ufeff", "zero\\u200bwidth\\ufeff"),
        ("NT-Owners\u00ad x\u180e", "NT-Owners\\xad x\\u180e"),
        ("NT-Owners\U0001d173 \U0001bca0", "NT-Owners\\U0001d173 \\U0001bca0"),
        ("lone\ud800surrogate", "lone\\ud800surrogate"),
        ("::error::pwned", "\\x3a:error::pwned"),
        ("  ::add-mask::x", "  \\x3a:add-mask::x"),
        ("a::b stays", "a::b stays"),
        ("x ##[error]y ##[set-output]z", "x ##\\x5berror]y ##\\x5bset-output]z"),
        (
            "Walsh ##vso[task.setsecret]deactivate ##VSO[task.complete result=Failed]",
            "Walsh ##vso\\x5btask.setsecret]deactivate ##VSO\\x5btask.complete result=Failed]",
        ),
        ("José 山田 \u00a0Ω", "José 山田 \u00a0Ω"),
        (
            "ZWNJ and ZWJ: \u0645\u200c\u06cc 👩\u200d💻",
            "ZWNJ and ZWJ: \u0645\u200c\u06cc 👩\u200d💻",
        ),
        ("flag 🏴\U000e0067\U000e0062\U000e007f", "flag 🏴\U000e0067\U000e0062\U000e007f"),
        (None, ""),
    ],
    ids=[
        "plain text is unchanged",
        "an ANSI escape is shown, not run",
        "an OSC-8 link is shown, not a link",
        "a right-to-left override is shown",
        "CR, LF and TAB are shown, the text stays one line",
        "NUL, DEL and C1 controls are shown",
        "bidi isolates and marks are shown",
        "line and paragraph separators are shown",
        "zero-width space and BOM are shown",
        "a soft hyphen and the Mongolian vowel separator are shown",
        "format controls past U+FFFF are shown by their eight-digit code",
        "a lone surrogate is shown, not a crash on output",
        "a GitHub workflow command cannot start a line",
        "nor after blanks, which the runner skips",
        "two colons inside a name stay",
        "a legacy ##[command] is inert anywhere",
        "an Azure Pipelines ##vso[command] is inert anywhere, in any case",
        "accents, CJK, no-break spaces and Greek stay",
        "joiners in Persian and emoji stay",
        "tag characters of a flag emoji stay",
        "None gives an empty string",
    ],
)
def test_text_is_one_inert_line_that_shows_what_was_there(raw: str | None, shown: str) -> None:
    assert sanitize.text(raw) == shown


def test_every_unsafe_character_is_non_printable_so_the_fast_path_never_skips_it() -> None:
    for code in sorted(sanitize.UNSAFE):
        assert not chr(code).isprintable(), f"U+{code:04X}"
        assert sanitize.text(f"a{chr(code)}b") == f"a{sanitize.escape(code)}b", f"U+{code:04X}"


# What docs/safety.md promises to show escaped, written out here rather than read from the
# module: narrowing its list must fail a test. Controls (C0, DEL, C1), bidi marks, embeddings,
# overrides and isolates, line and paragraph separators, invisible and format characters,
# surrogates, the BOM, interlinear annotations and the last two non-characters.
PROMISED = (
    *range(0x00, 0x20), *range(0x7F, 0xA0), 0xAD, 0x061C, 0x180E, 0x200B, 0x200E, 0x200F,
    *range(0x2028, 0x202F), *range(0x2060, 0x2070), *range(0xD800, 0xE000), 0xFEFF,
    0xFFF9, 0xFFFA, 0xFFFB, 0xFFFE, 0xFFFF, *range(0x13430, 0x13440), *range(0x1BCA0, 0x1BCA4),
    *range(0x1D173, 0x1D17B), 0xE0001,
)  # fmt: skip


def test_every_promised_character_is_shown_escaped() -> None:
    for code in PROMISED:
        shown = (
            f"\\x{code:02x}"
            if code < 0x100
            else f"\\u{code:04x}"
            if code < 0x10000
            else f"\\U{code:08x}"
        )
        assert sanitize.text(f"a{chr(code)}b") == f"a{shown}b", f"U+{code:04X}"


# The format characters (Unicode's Cf) shown as they are: the joiners and the tag characters
# emoji use, and the Arabic and Kaithi signs that are drawn. Any other, a new Unicode's too,
# must be escaped: most draw nothing, and a name could hide one (``NT-Owners`` + U+1D173).
KEPT_FORMAT = (
    0x200C, 0x200D, *range(0xE0020, 0xE0080),
    *range(0x0600, 0x0606), 0x06DD, 0x070F, 0x0890, 0x0891, 0x08E2, 0x110BD, 0x110CD,
)  # fmt: skip


def test_every_format_character_but_the_kept_ones_is_shown_escaped() -> None:
    kept = set(KEPT_FORMAT)
    for code in range(0x110000):
        if unicodedata.category(chr(code)) == "Cf" and code not in kept:
            assert code in sanitize.UNSAFE, f"U+{code:04X} {unicodedata.name(chr(code), '')}"


def test_json_text_escapes_a_del_in_text_otherwise_ascii() -> None:
    document = json.dumps({"name": "Eve\x7f"}, ensure_ascii=False)  # as the JSON output is
    assert sanitize.json_text(document) == '{"name": "Eve\\u007f"}'


def test_lines_keeps_the_line_breaks_and_makes_each_line_inert() -> None:
    message = "2 changes failed:\n  create eve\x1b[2J\r\n::error::pwned\n  ##[add-mask]x"
    assert sanitize.lines(message) == (
        "2 changes failed:\n  create eve\\x1b[2J\\x0d\n\\x3a:error::pwned\n  ##\\x5badd-mask]x"
    )


def test_json_text_keeps_every_value_and_spells_unsafe_characters_as_escapes() -> None:
    value = {"name": "Eve\u202e\x9b\x7f\u2028\ufeff\ud800 José \x1b\n", "ok": "plain"}
    document = json.dumps(value, ensure_ascii=False)
    inert = sanitize.json_text(document)
    for raw in ("\u202e", "\x9b", "\x7f", "\u2028", "\ufeff", "\ud800", "\x1b", "\n"):
        assert raw not in inert
    assert "José" in inert
    assert json.loads(inert) == value


def test_json_text_writes_a_character_past_u_ffff_as_its_surrogate_pair() -> None:
    value = {"group": "NT-Owners\U0001d173", "flag": "\U0001f3f4\U000e0067\U000e007f"}
    inert = sanitize.json_text(json.dumps(value, ensure_ascii=False))
    assert '"NT-Owners\\ud834\\udd73"' in inert
    assert "\U000e0067" in inert  # a tag character of a flag stays raw, as in text
    assert json.loads(inert) == value


def test_json_text_keeps_a_legacy_workflow_command_out_of_the_log() -> None:
    # "##[error]" anywhere in a line is a workflow command: users --format json prints names.
    value = [
        {"display_name": "##[error]pwned", "user": "ok ##[add-mask]x"},
        {"display_name": "x ##vso[task.setsecret]deactivate", "user": "##Vso[task.logissue]"},
    ]
    inert = sanitize.json_text(json.dumps(value, indent=2))
    assert "##[" not in inert
    assert "##vso[" not in inert.lower()
    assert json.loads(inert) == value


def test_json_text_leaves_ascii_json_as_it_is() -> None:
    document = json.dumps({"name": "Alice"})
    assert sanitize.json_text(document) is document


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("carol@contoso.com", "carol@contoso.com"),
        ("carol@contoso.com ", "'carol@contoso.com '"),
        ("carol@contoso.com\u00a0", "'carol@contoso.com\u00a0'"),
        ("carol@contoso.com\u3164", "'carol@contoso.com\u3164'"),  # a Hangul filler
        ("\u200dcarol@contoso.com", "'\u200dcarol@contoso.com'"),  # a joiner, kept by text()
        ("'carol@contoso.com '", "''carol@contoso.com ''"),
        ("o'neil@contoso.com", "o'neil@contoso.com"),
        ("", ""),
    ],
)
def test_name_text_quotes_a_name_whose_edges_may_not_show(name: str, shown: str) -> None:
    assert sanitize.name_text(name) == shown
