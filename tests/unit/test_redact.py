"""entrasync.core.redact: the credentials this process sends are kept out of every text."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator

import pytest

from entrasync.console import InertFormatter
from entrasync.core import redact as redact_module
from entrasync.core import sanitize
from entrasync.core.redact import WITHHELD, redact, remember
from entrasync.core.secret import Secret
from entrasync.errors import EntrasyncError
from tests.fake_tokens import fake_jwt

TOKEN = "fake-redact+token/for-tests"  # "+" and "/": JSON and HTML escape them


@pytest.fixture(autouse=True)
def _forget_what_the_test_remembered() -> Iterator[None]:
    # The registry is the process's: later tests would search every value put here.
    known = dict(redact_module._known)
    yield
    redact_module._known.clear()
    redact_module._known.update(known)


@pytest.mark.parametrize(
    "echo",
    [
        "Bearer " + TOKEN.replace("+", "\\u002B").replace("/", "\\/"),
        "Bearer " + TOKEN.replace("+", "&#43;").replace("/", "&#x2F;"),
        "Bearer " + TOKEN[:10] + "\u200b" + TOKEN[10:],
    ],
    ids=["JSON unicode escapes", "HTML character references", "a zero-width character"],
)
def test_a_credential_echoed_escaped_is_withheld(echo: str) -> None:
    remember(TOKEN)
    assert redact(f"debug: {echo}") == WITHHELD


@pytest.mark.parametrize(
    ("token", "escape"),
    [
        ("fake-pct%41-token-for-tests", lambda t: t.replace("%", "%25")),
        ("fake-amp&amp;-token-for-tests", lambda t: t.replace("&", "&amp;")),
    ],
    ids=["percent-encoded", "HTML-escaped"],
)
def test_a_credential_holding_an_escape_is_withheld_echoed_escaped(
    token: str, escape: Callable[[str], str]
) -> None:
    """Kept unescaped, ``%41`` was ``A``: the echo, unescaped once, never matched it. Kept
    as sent only, the token echoed as sent but in another case or cut over lines was missed."""
    remember(token)
    assert token not in escape(token)
    assert redact(f"t={escape(token)}") == WITHHELD
    assert redact(f"t={token}") == "t=***"
    for echo in (token.upper(), f"{token[:10]}\n{token[10:]}", token.replace("-", "\\u002d")):
        assert redact(f"t={echo}") == WITHHELD, echo
    assert redact(sanitize.text(f"t={token[:10]}\n{token[10:]}")) == WITHHELD


def test_a_credential_cut_by_a_line_break_made_inert_is_withheld() -> None:
    """`sanitize` shows a line break as the text ``\\x0a``: redacted after it, the
    credential was two pieces no search matched."""
    remember(TOKEN)
    cut = sanitize.text(f"bad {TOKEN[:9]}\n{TOKEN[9:]}")
    assert "\\x0a" in cut
    assert redact(cut) == WITHHELD


@pytest.mark.parametrize(
    ("token", "echo"),
    [
        ("fake-amp&amp;-token-for-tests", "x fake-amp&amp\n;-token-for-tests"),
        ("fake-%E2%80%8B-token-for-tests", "x fake-%E2\n%80%8B-token-for-tests"),
        ("fake-UPPER-Token-For-Tests", '"fake-UPP\\nER-Token-For-Tests"'),
    ],
    ids=["a line cut inside its own entity", "a line cut inside its own escape", "JSON's \\n"],
)
def test_a_credential_cut_where_unescaping_cannot_join_it_is_withheld(
    token: str, echo: str
) -> None:
    remember(token)
    assert redact(echo) == WITHHELD


def test_a_value_that_only_signs_masks_nothing() -> None:
    # A certificate's password is never sent: masking it would mask words, and tell it.
    Secret("password", sent=False)
    error = EntrasyncError("wrong password for the key", "give the password")
    assert error.message == "wrong password for the key"
    assert error.hint == "give the password"


def test_a_short_credential_sent_is_masked_all_the_same() -> None:
    # No token NeuralTrust issues is this short, but one set by mistake is still sent.
    remember("t" * 7)  # a placeholder: masking it would mask words
    assert redact("t" * 7) == "t" * 7
    Secret("fake-Tk8")  # the shortest masked: 8 characters
    assert redact("bad token fake-Tk8") == "bad token ***"
    Secret("fake-Tok-12345")
    assert redact("bad token fake-Tok-12345") == "bad token ***"
    assert redact('{"detail": "bad token fake-tok-12345"}') == WITHHELD


@pytest.mark.parametrize(
    "token",
    ["fake\\backslash-token-for-tests", "fake-\"quote'-token-for-tests"],
    ids=["a backslash", "quotes"],
)
@pytest.mark.parametrize(
    "echo", [json.dumps, repr, lambda t: repr(t.encode())], ids=["JSON", "repr", "bytes repr"]
)
def test_a_credential_echoed_with_its_backslashes_escaped_is_withheld(
    token: str, echo: Callable[[str], str]
) -> None:
    remember(token)
    shown = echo(token)
    assert token not in shown  # the escaped form is what the text holds
    assert redact(f"(b'X-Echo', {shown})") == WITHHELD


def test_a_credential_across_the_cut_of_a_long_text_is_masked_before_the_cut() -> None:
    remember(TOKEN)
    text = "a" * 190 + TOKEN + "b" * 100_000
    shown = redact(text, 200)
    assert len(shown) == 200
    assert shown == "a" * 190 + "***" + "b" * 7


def test_log_lines_are_searched_too() -> None:
    remember(TOKEN)
    record = logging.LogRecord("x", logging.DEBUG, "f", 1, f"request-id {TOKEN}", None, None)
    assert InertFormatter("%(message)s").format(record) == "request-id ***"


def test_a_token_remembered_while_another_thread_redacts_breaks_nothing() -> None:
    # A token refreshed while parallel reads build their errors: the registry changing during
    # another thread's search raised RuntimeError out of EntrasyncError. Here the change comes
    # in the middle of the search itself, as a thread switch can make it.
    class Meddling(str):
        def replace(self, old: str, new: str, count: int = -1) -> Meddling:  # type: ignore[override]
            remember(f"fake-token-learnt-meanwhile-{len(old):04d}-for-tests")
            return Meddling(str.replace(self, old, new, count))

    remember(TOKEN)
    remember("fake-second-token-for-tests")
    assert redact(Meddling("Graph answered 401")) == "Graph answered 401"


def test_an_escaped_credential_across_the_cut_is_withheld() -> None:
    # Percent-encoded, the credential is three times as long: cut at the limit plus its own
    # length, the search missed it and showed its first characters.
    remember(TOKEN)
    escaped = "".join(f"%{ord(c):02X}" for c in TOKEN)
    assert redact("a" * 180 + escaped + "b" * 100_000, 200) == WITHHELD


def test_a_signed_token_is_masked_though_never_remembered() -> None:
    # The client assertion msal signs from a certificate never passes through entrasync.
    said = f"rejected client_assertion={fake_jwt({'sub': 'x'}, {'alg': 'RS256'})}&x=1"
    assert redact(said) == "rejected client_assertion=***&x=1"
    assert EntrasyncError(said).message == "rejected client_assertion=***&x=1"


# Letters and digits alone, as hex tokens are; made at run time, so that no literal in the tree
# reads as a token to a secret scanner.
ALNUM_TOKEN = "".join(("fake", "Scim", "Token", "For", "Tests", "0123456789" * 2))


@pytest.mark.parametrize("token", [ALNUM_TOKEN, TOKEN])
@pytest.mark.parametrize(
    "spelt",
    [
        lambda text: text,
        lambda text: text.replace("T", "\\u0054"),
        lambda text: text.replace("/", "\\/").replace("+", "\\u002B"),
        lambda text: text.replace("T", "&#84;", 1),
        lambda text: text.replace("T", "&#x54;", 1),
        lambda text: text.replace("T", "%54", 1),
        lambda text: text.replace("T", "\\u0026#84;", 1),
        lambda text: text.replace("T", "\\u002554", 1),
        lambda text: text.replace("T", "&\\u002384;", 1),
        lambda text: text.replace("T", "\\u0026\\u002384;", 1),
        lambda text: text.replace("ake", "a\u200bke", 1).replace("789", "7\u200b89", 1),
        lambda text: text.replace("ake", "a\\u200bke", 1).replace("789", "7\\u200b89", 1),
    ],
    ids=[
        "as sent",
        "a letter as an escape",
        "punctuation escaped",
        "a letter as an HTML entity",
        "a letter as a hexadecimal HTML entity",
        "a letter percent-escaped",
        "a letter as an HTML entity, its & a JSON escape (Go's writer)",
        "a letter percent-escaped, its % a JSON escape",
        "a letter as an HTML entity, its # a JSON escape",
        "a letter as an HTML entity, its & and # JSON escapes",
        "a zero-width space in it",
        "a zero-width space in it, as a JSON escape",
    ],
)
def test_an_answer_echoing_a_credential_is_told_however_json_spells_it(
    token: str, spelt: Callable[[str], str]
) -> None:
    remember(token)
    answer = json.dumps({"userName": f"Bearer {token}", "displayName": "Jos\u00e9"})
    assert redact_module.holds_credential(spelt(answer).encode())
    clean = json.dumps({"userName": "jose@contoso.com", "displayName": "Jos\u00e9"})
    assert not redact_module.holds_credential(spelt(clean).encode())


@pytest.mark.parametrize(
    ("data", "hiding"),
    [
        (b'{"displayName": "R&D &amp; Ops", "next": "?a=1&b=2"}', False),
        (b'{"displayName": "Zero&#8203;Width &#x200b;"}', False),  # no letter or digit
        (b'{"displayName": "&#84;oken"}', True),
        (b'{"displayName": "&#x54;oken &"}', True),
        (b'{"displayName": "&#0055;"}', True),  # 7, zeros before it
        (b'{"displayName": "&#00000082;eview"}', True),  # R, more zeros than digits read
        (b'{"displayName": "&#x0000052;eview"}', True),
        (b"&", False),
        (b"&#", False),
    ],
)
def test_only_a_reference_to_a_letter_or_digit_sends_an_answer_to_the_slow_search(
    data: bytes, hiding: bool
) -> None:
    # A zero-width space written &#8203; hides no piece of a credential: it took an answer
    # through the slow search (47 ms a page against 0.5 ms).
    assert redact_module._entity_hiding(data) is hiding


def test_a_credential_of_short_runs_echoed_with_its_punctuation_as_references_is_told() -> None:
    # No run of 6 letters or digits: the credential is its own piece, and &#45; for each "-"
    # hid it from every quick search.
    token = "-".join(("fa12", "ke34", "fo56", "rt78"))  # no run of 6 letters or digits
    remember(token)
    for written in ("&#45;", "&#x2D;", "%2D"):
        answer = json.dumps({"userName": "Bearer " + token.replace("-", written)}).encode()
        assert redact_module.holds_credential(answer), written
    escaped = json.dumps({"userName": "Bearer " + token.replace("-", "%2D")})
    assert redact_module.holds_credential(escaped.replace("%", "\\u0025").encode())


def test_a_page_with_percent_escapes_takes_the_quick_search_for_a_credential_of_short_runs() -> (
    None
):
    # A proxy password such as Pa55-word! is its own piece: any % in an answer sent every Graph
    # page (its nextLink holds %24 and %2C) through the slow search, 8-43 ms a page. Only a
    # percent escape of a sign the credential holds does now.
    remember("".join(("Pa55", "-word!")))  # made at run time: no literal reads as a secret
    page = json.dumps(
        {"value": [{"id": "1"}], "@odata.nextLink": "https://g/v1.0/x?%24select=id%2Cmail&b=1"}
    ).encode()
    signs = redact_module._percent_of(("Pa55-word!",))
    assert signs is not None
    assert signs.search(page) is None
    assert not redact_module.holds_credential(page)


def test_a_credential_escaped_in_a_json_string_inside_a_json_string_is_told() -> None:
    # An error's detail carrying JSON: the letter's escape is itself escaped (\\u0053).
    remember(ALNUM_TOKEN)
    hidden = ALNUM_TOKEN.replace("S", "\\u0053", 1)
    assert redact_module.holds_credential(json.dumps({"detail": f"Bearer {hidden}"}).encode())
    plain = json.dumps({"detail": "Jos\\u00e9 \\u0041"}).encode()
    assert not redact_module.holds_credential(plain)


@pytest.mark.parametrize("order", ["shorter first", "longer first"])
def test_a_credential_holding_another_is_masked_whole(order: str) -> None:
    """The shorter one, remembered first, was masked first: the rest of the longer one was
    printed (a request-id echoing a long token, cut to 80 characters)."""
    shorter = "fake-token-for-tests"
    longer = shorter + "-" + "A1b2C3d4" * 10
    for value in (shorter, longer) if order == "shorter first" else (longer, shorter):
        remember(value)
    assert redact(f"echoed {longer} and {shorter}") == "echoed *** and ***"


def test_two_credentials_that_overlap_are_masked_whole() -> None:
    """One's end is the other's start: masked one after the other, the first took the shared
    part, and the rest of the second was printed."""
    first, second = "fakeOverlapA-" + "shared-part-", "shared-part-" + "fakeOverlapB"
    remember(first)
    remember(second)
    assert redact("echo fakeOverlapA-shared-part-fakeOverlapB end") == "echo *** end"


def test_a_credential_escaped_around_a_shorter_one_as_sent_is_withheld() -> None:
    """The shorter one, masked where it was, broke the escaped form of the longer one around
    it, and the rest of the longer one was printed."""
    longer = "fakeLongerHalf01/fakeLongerHalf02"
    remember(longer)
    remember("fakeLongerHalf02")
    assert redact(longer.replace("/", "%2F")) == WITHHELD


def test_a_credential_the_limit_halved_stays_out_of_what_is_kept() -> None:
    """Cut 64 KiB past the limit, then masked: a long JWT before it shrank to ***, and the
    first half of a token the cut had halved landed in the characters kept."""
    token = "fakeHalvedToken" + "0123456789" * 4
    remember(token)
    limit = 200
    jwt = "eyJ" + "a" * 65_600 + ".b.c"  # masked, 100 spaces before the token
    cut = limit + redact_module._SEARCHED_PAST_LIMIT
    text = jwt + " " * (cut - 20 - len(jwt)) + token + " tail"
    shown = redact(text, limit)
    assert token[:12] not in shown
    assert shown == "***" + " " * (cut - 20 - len(jwt)) + "*** tail"  # searched on, masked
