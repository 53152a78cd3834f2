"""Credentials never leave in text: every credential this process sends is known here, and
text that may carry one (a server's answer, an error told to the user, a log line) is searched
for it in the forms a server may echo it in: as sent, in another case, percent-, JSON-,
Python- or HTML-escaped, or cut over lines. Not caught: a credential re-encoded (base64) or
cut short. A signed token (a JWT) is masked whether known or not: the client assertion msal
signs from a certificate never passes through entrasync, and each is accepted for minutes.
"""

from __future__ import annotations

import functools
import html
import json
import re
import unicodedata
from urllib.parse import unquote

MASK = "***"
WITHHELD = "(withheld: it held a credential)"
# Each credential -> the forms it is searched for in flattened text. Set and read whole by one
# dict operation each, which the interpreter makes atomic: a thread may remember a token while
# another redacts.
_known: dict[str, tuple[str, str]] = {}
# Shorter values are no credential anyone issues (a token of a test, a placeholder), and masking
# them would mask words: every "t" of a text for a token "t". Above it, a short token set by
# mistake is masked all the same, whatever more it masks.
_SHORTEST = 8
_SEARCHED_PAST_LIMIT = 64 * 1024
_IGNORED = re.compile(r"[\s+]+")  # a line cut, a form-encoded space or plus, a space
# A JSON or Python string escape: \uXXXX, \xXX (as `sanitize` shows a line break or a tab), a
# line break or tab (\n \r \t, removed by the folding), or a backslash before \ " ' or /.
_ESCAPE = re.compile(r"""\\(?:u([0-9a-fA-F]{4})|x([0-9a-fA-F]{2})|([\\"'/])|([nrt]))""")
_JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*")


def _folded(text: str) -> str:
    """``text`` without zero-width marks, blanks and pluses (a line cut, a form's space),
    casefolded."""
    if not text.isascii():  # format characters (Cf) are none of ASCII
        text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    return _IGNORED.sub("", text).casefold()


def _unescaped(match: re.Match[str]) -> str:
    if match.group(4):
        return " "  # a line break or tab: folded away
    return match.group(3) or chr(int(match.group(1) or match.group(2), 16))


def _flat(text: str) -> str:
    """``text`` with one layer of escaping undone (JSON, Python, HTML, percent), folded."""
    text = _ESCAPE.sub(_unescaped, text)
    return _folded(unquote(html.unescape(text)))


def remember(value: str) -> None:
    """Keep ``value`` (a credential sent over the wire) from every text :func:`redact` is
    given from now on. Text is searched unescaped once and only folded, so a token holding
    ``%41`` or ``&amp;`` is searched for in two forms: unescaped too (echoed as sent, in
    another case or cut over lines) and only folded (echoed escaped once, ``%2541``, or cut
    inside one of its own escapes)."""
    value = value.strip()
    if len(value) >= _SHORTEST and value not in _known:
        _known[value] = (_flat(value), _folded(value))


def holds_credential(data: bytes) -> bool:
    """Whether ``data``, an answer's bytes (JSON), holds a credential this process sent: a
    server that echoes an Authorization header into the names entrasync reads would carry it
    into the text plan, the plan file and the pull request, which no redaction of errors and
    logs reaches.

    Per answer, a search in C first: for a piece of each credential (:func:`_piece`), and
    for what could hide one from that (a letter or digit written as a ``\\u`` escape, which
    no JSON writer needs; any escape, for a credential that is its own piece; UTF-16's zero
    bytes). Only then is the answer read with JSON's escapes undone and searched for the
    credential as sent; and, where a piece is in it in any case, in every other form
    :func:`redact` knows (escaped again, in another case, cut over lines), whose search is
    slow; and so it is where a letter or digit is written as an HTML entity or a percent
    escape. Not caught: a credential echoed in another case, or cut over lines through that
    very piece, in an answer that hides nothing."""
    known = tuple(_known.items())
    if not known:
        return False
    # memchr first, which is fast; a credential with no long run is its own piece, and any
    # escape of its punctuation (\\u002d, \\/) hides it. Letters and digits alone are hidden
    # only as _HIDDEN's escapes: an answer escaping accented names is not decoded for them.
    punctuated = tuple(v for v, _ in known if _punctuated_piece(v))
    hidden = b"\\" in data and _HIDDEN.search(data) is not None
    escaped = hidden or (b"\\" in data and bool(punctuated))
    # A letter or digit (any character, for a credential that is its own piece) written as an
    # HTML character reference (&#84;) or percent-escaped (%54): JSON's escapes undone, it
    # still hides a piece, so the answer is searched as redact() searches.
    percent = _percent_of(punctuated)
    entity = (
        _entity_hiding(data, bool(punctuated))
        or (b"%" in data and _PERCENT_HIDDEN.search(data) is not None)
        or (b"\\" in data and _ESCAPED_HIDING.search(data) is not None)
        or (b"\\" in data and b"&\\u0023" in data)  # "#" a JSON escape, "&" not
        or (percent is not None and percent.search(data) is not None)
    )
    invisible = _invisible(data)
    if not (
        escaped
        or entity
        or invisible
        or b"\x00" in data
        or any(_piece(v).encode() in data for v, _ in known)
    ):
        return False
    try:
        text = json.dumps(json.loads(data), ensure_ascii=False)
    except (ValueError, RecursionError):  # not JSON: its callers refuse it as such
        text = data.decode("utf-8", "replace")
    if any(value in text for value, _ in known):
        return True
    if (entity or invisible) and _carries(text, known):  # _carries folds format characters
        return True
    # A letter or digit escaped in a JSON string inside a JSON string (an error's detail):
    # json.dumps escaped its backslash again, so one layer is undone before the search.
    if hidden and _carries(_ESCAPE.sub(_unescaped, text), known):
        return True
    lowered = text.lower()
    return any(_piece(v).lower() in lowered for v, _ in known) and _carries(text, known)


# An escape of \u0030 to \u007f, the letters and digits among them: JSON never needs one,
# and it hides a piece from the search in C.
_HIDDEN = re.compile(rb"\\u00[3-7][0-9A-Fa-f]")
# A percent escape of a letter or digit: %30-%39, %41-%5A, %61-%7A; and that or an HTML
# character reference with its first character a JSON escape (Go's and .NET's writers escape
# "&" as \u0026). Each starts with a literal, which the regular expression engine finds fast.
_ALNUM_HEX = rb"(?:3[0-9]|4[1-9A-Fa-f]|5[0-9Aa]|6[1-9A-Fa-f]|7[0-9Aa])"  # 0-9 A-Z a-z
_PERCENT_HIDDEN = re.compile(rb"%" + _ALNUM_HEX)
_ESCAPED_HIDING = re.compile(rb"\\u00(?:26(?:#|\\u0023)|25" + _ALNUM_HEX + rb")")
# A zero-width or other invisible format character (U+200B-U+200F, U+2060-U+2064; U+FEFF), as
# UTF-8 (a few neighbours too) or as a JSON escape: inside a credential it breaks every run the
# search in C looks for. Each starts with a literal, found fast; multi-byte substring searches
# took 0.13-0.19 ms each a 240 kB page.
_INVISIBLE_RAW = re.compile(rb"\xe2[\x80\x81][\x8b-\x8f\xa0-\xa4]")
_INVISIBLE_ESCAPED = re.compile(rb"\\u(?:200[b-fB-F]|206[0-4]|[fF][eE][fF][fF])")


def _invisible(data: bytes) -> bool:
    """Whether ``data`` holds a character :data:`_INVISIBLE_RAW` or
    :data:`_INVISIBLE_ESCAPED` finds, or a byte order mark, each looked for only once a
    single-byte search (memchr) finds a byte it starts with."""
    return (
        (b"\xe2" in data and _INVISIBLE_RAW.search(data) is not None)
        or (b"\xef" in data and b"\xef\xbb\xbf" in data)
        or (b"\\" in data and _INVISIBLE_ESCAPED.search(data) is not None)
    )


_ENTITY = re.compile(rb"&#(?:[xX]0*([0-9a-fA-F]{1,6})|0*([0-9]{1,7}))")


def _entity_hiding(data: bytes, any_ascii: bool = False) -> bool:
    """Whether ``data`` writes a letter or digit as an HTML character reference (``&#84;``,
    ``&#x54;``, zeros before it or not), or with ``any_ascii`` (a credential that is its own
    piece holds punctuation) any ASCII character. Searched for from its literal ``&#``, which
    the regular expression engine finds fast (``b"&#" in data`` took 0.35 ms a 400 kB page)."""
    for found in _ENTITY.finditer(data):
        hexadecimal, decimal = found.groups()
        code = int(hexadecimal, 16) if hexadecimal else int(decimal)
        if code < 128 and (any_ascii or chr(code).isalnum()):
            return True
    return False


@functools.lru_cache(maxsize=64)
def _percent_of(values: tuple[str, ...]) -> re.Pattern[bytes] | None:
    """A percent escape (``%2D``, or ``\\u00252D``) of a sign one of ``values`` (credentials
    that are their own piece) holds: any ``%`` would send every Graph page, whose nextLink
    holds some, to the slow search (8-43 ms a page for a proxy password like ``Pa55-word!``)."""
    signs = sorted({f"{ord(c):02X}" for v in values for c in v if ord(c) < 128 and not c.isalnum()})
    if not signs:
        return None
    either = "|".join(signs)
    return re.compile(rf"(?:%|\\u0025)(?:{either})".encode(), re.IGNORECASE)


_RUN = re.compile(r"[A-Za-z0-9]{6,}")  # letters and digits: no JSON writer needs to escape them


@functools.lru_cache(maxsize=64)
def _punctuated_piece(value: str) -> bool:
    """Whether ``value`` is its own piece and holds a character JSON may escape other than as
    _HIDDEN's letters and digits (``-``, ``/``, ``+``, ...)."""
    return _piece(value) == value and _ALNUM.fullmatch(value) is None


_ALNUM = re.compile(r"[A-Za-z0-9]*")


@functools.lru_cache(maxsize=64)
def _piece(value: str) -> str:
    """``value``'s longest run of 6 or more letters and digits, else ``value`` itself: one
    search per credential and answer."""
    runs = _RUN.findall(value)
    return max(runs, key=len) if runs else value


def _carries(text: str, known: tuple[tuple[str, tuple[str, str]], ...]) -> bool:
    """Whether ``text`` holds one of ``known`` in a form other than as sent (:func:`redact`'s
    search): escaped once, in another case, cut over lines."""
    flat, folded = _flat(text), _folded(text)
    return any(
        unescaped in flat or kept in flat or kept in folded for _, (unescaped, kept) in known
    )


def redact(text: str, limit: int | None = None) -> str:
    """``text`` with each known credential masked; all of it withheld when one is still there
    in another form, where masking could not be trusted to catch every piece of it.

    ``limit``: only so many characters are wanted (of a server's error page, say): the search
    covers 64 KiB past them, room for any credential begun before the cut in any escaped
    form, and the rest is never searched. Masking shortens the text, so the cut moves on
    until 64 KiB of masked text follow what is kept: a credential the cut halved is past it."""
    known = tuple(_known.items())  # a snapshot: another thread may remember a new token
    if limit is None:
        masked = _masked(text, known)
        return WITHHELD if masked is None else masked
    wanted = limit + _SEARCHED_PAST_LIMIT
    end = wanted
    while True:
        masked = _masked(text[:end], known)
        if masked is None:
            return WITHHELD
        if end >= len(text) or len(masked) >= wanted:
            return masked[:limit]
        end += max(wanted - len(masked), end)  # at least doubled: pathological text ends soon


def _masked(text: str, known: tuple[tuple[str, tuple[str, str]], ...]) -> str | None:
    """``text`` with every known credential, and anything shaped as a JWT, masked; None when
    one is there in another form (:func:`_carries`)."""
    if "eyJ" in text:
        text = _JWT.sub(MASK, text)
    if not (known and text):
        return text
    # Every place each credential is, found in the unmasked text and masked together: masked
    # one after another, one that overlaps another (or holds it) kept the rest of itself.
    spans: list[tuple[int, int]] = []
    found: set[str] = set()
    for value, _ in known:
        at = text.find(value)
        if at != -1:
            found.add(value)
        while at != -1:
            spans.append((at, at + len(value)))
            at = text.find(value, at + 1)
    if not spans:
        return None if _carries(text, known) else text
    pieces, kept_to = [], 0
    for begin, finish in sorted(spans):
        if begin >= kept_to:
            pieces += [text[kept_to:begin], MASK]
        kept_to = max(kept_to, finish)
    masked = "".join(pieces) + text[kept_to:]
    if _carries(masked, known):
        return None
    # One found as sent may sit inside another that is there only escaped: masked, it broke
    # the other's form, which the masked text no longer shows.
    elsewhere = tuple(item for item in known if item[0] not in found)
    return None if elsewhere and _carries(text, elsewhere) else masked
