"""Pure: text from Entra, NeuralTrust or the config made safe to print (docs/safety.md,
"Terminals and CI logs are not a channel").

Group and user names are written by whoever administers the directory, mapping names by
whoever opens a pull request. Printed raw, such a string could repaint the reviewer's terminal
(ESC sequences, OSC-8 links), reorder what they read (bidi overrides), add lines of its own, or
write a workflow command into a GitHub Actions log: ``::name::`` at the start of a line (after
blanks) and the legacy ``##[name]`` anywhere in one (actions/runner ``ActionCommand.TryParseV2``
and ``TryParse``), e.g. ``::add-mask::``, ``::stop-commands::`` or an ``::error::`` annotation;
or an Azure Pipelines logging command, ``##vso[`` anywhere in a line and in any case
(azure-pipelines-agent ``Command.TryParse``), e.g. ``##vso[task.setsecret]`` or
``##vso[task.complete result=Failed]``, which restricted commands still allow.

:func:`text` is applied to each such string where it enters a printed line (tables, progress,
errors, warnings, CSV); :class:`entrasync.console.Console` and the CLI's error boundary put whole
messages through :func:`lines` as a last defence. What is neutralised is replaced visibly, by the
escape Python's ``repr()`` writes (``\\x1b``, ``\\u202e``), so a reviewer sees something was there:

- C0 controls (NUL, TAB, LF, CR, ESC, ...), DEL and the C1 controls (U+0080-U+009F);
- bidirectional controls: U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069;
- the line and paragraph separators U+2028 and U+2029;
- invisible characters that can only hide or fake text: the soft hyphen U+00AD, U+180E, U+200B,
  U+2060-U+2065, U+206A-U+206F, U+FEFF, U+FFF9-U+FFFB, and past U+FFFF the format controls of
  Egyptian hieroglyphs (U+13430-U+1343F), shorthand (U+1BCA0-U+1BCA3) and musical notation
  (U+1D173-U+1D17A), and the language tag U+E0001: every format character (Unicode's Cf) that
  is neither kept below nor a visible sign (the Arabic number signs);
- lone surrogates (JSON ``"\\ud800"`` decodes to one, and printing it as UTF-8 would fail);
- the non-characters U+FFFE and U+FFFF, which a mappings file may not hold raw.

Kept as they are: every printable character, ZWNJ and ZWJ (U+200C, U+200D: Persian and Indic
names, emoji), variation selectors and tag characters (emoji, flags), and non-breaking spaces.
A backslash is kept too, so a name holding the six characters ``\\x1b`` reads like one holding
an ESC: what matters is that neither reaches the terminal as a control.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from entrasync.config.patterns import unseen_in_address

_RANGES = (
    (0x00, 0x1F),  # C0
    (0x7F, 0x9F),  # DEL, C1
    (0x00AD, 0x00AD),  # soft hyphen: shown only where a line breaks
    (0x061C, 0x061C),  # Arabic letter mark
    (0x180E, 0x180E),  # Mongolian vowel separator
    (0x200B, 0x200B),  # zero-width space
    (0x200E, 0x200F),  # left-to-right and right-to-left marks
    (0x2028, 0x202E),  # line and paragraph separators; bidi embeddings and overrides
    (0x2060, 0x2069),  # word joiner, invisible operators; bidi isolates
    (0x206A, 0x206F),  # deprecated format characters
    (0xD800, 0xDFFF),  # surrogates: never a character on their own
    (0xFEFF, 0xFEFF),  # zero-width no-break space (BOM)
    (0xFFF9, 0xFFFB),  # interlinear annotation
    (0xFFFE, 0xFFFF),  # non-characters
    (0x13430, 0x1343F),  # Egyptian hieroglyph format controls
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0x1D173, 0x1D17A),  # musical symbol format controls
    (0xE0001, 0xE0001),  # language tag
)
UNSAFE: frozenset[int] = frozenset(c for low, high in _RANGES for c in range(low, high + 1))


def escape(code: int) -> str:
    """How an unsafe character is shown: by its code, ``\\x1b``, ``\\u202e`` or
    ``\\U0001d173``."""
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


_TABLE = {code: escape(code) for code in UNSAFE}
_GITHUB_COMMAND = "::"  # a workflow command when a line starts with it (after blanks)
_COMMAND_MARK = "##"  # what both commands valid anywhere in a line start with
_ANYWHERE = re.compile(r"##(?:vso)?\[", re.IGNORECASE)  # GitHub's legacy form; Azure Pipelines'
_COLON = escape(ord(":"))


def file_name(name: str) -> str:
    """A file name as Unicode text: bytes of it that are not UTF-8, which Python keeps as lone
    surrogates (PEP 383), shown as ``\\xe9``. A plan file, audit record or comment that
    records the name can then be written."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def text(value: str | None) -> str:
    """A string from outside made one inert line (None and "" give "")."""
    if not value:
        return ""
    # Every unsafe character is non-printable (Cc, Cf, Cs, Zl, Zp), so a printable string has
    # none and skips translate(), which looks each character up in a dict: the text plan of
    # 85,000 changes calls this for every user, 0.47 s -> 0.24 s (benchmarks/optimisations.py).
    if not value.isprintable():
        value = value.translate(_TABLE)
    if _GITHUB_COMMAND in value or _COMMAND_MARK in value:
        value = _inert_commands(value)
    return value


def name_text(value: str | None) -> str:
    """A name from outside (a userName, a role) as :func:`text` makes it, quoted when blanks
    or characters that may not show (a filler, a joiner, a variation selector: kept by
    :func:`text` for the names and emoji that need them) surround it: they make it another
    value (``'carol@contoso.com '`` is not ``carol@contoso.com``), which a line, a padded
    table cell or Markdown would show alike. A name that starts with a quote is quoted too,
    so it cannot pass for quoted text."""
    shown = text(value)
    edges = shown[:1] + shown[-1:]
    # Every unseen character is outside printable ASCII: the usual name is settled in one step.
    unseen = not (edges.isascii() and edges.isprintable()) and unseen_in_address(edges)
    if unseen or edges[:1] in ("'", " ") or edges[-1:] == " ":
        return f"'{shown}'"
    return shown


def lines(message: str) -> str:
    """A message of several lines: each line as :func:`text` makes it, the line breaks kept.

    For messages the code composes (a list of failures, one per line). It cannot tell a line
    break of the code from one inside a name, so it is the last defence only: names are put
    through :func:`text` where they enter the message, and then hold no line break."""
    if message.isprintable():
        return text(message)
    return "\n".join(text(line) for line in message.split("\n"))


def _inert_commands(value: str) -> str:
    value = _ANYWHERE.sub(lambda m: m.group()[:-1] + escape(ord("[")), value)
    body = value.lstrip()
    if body.startswith(_GITHUB_COMMAND):
        blanks = len(value) - len(body)
        value = value[:blanks] + _COLON + value[blanks + 1 :]
    return value


# Outside its strings JSON text is ASCII, and json.dumps(ensure_ascii=False) escapes C0 itself:
# every other unsafe character stands inside a string, where ``\\uXXXX`` means the same value.
_JSON_UNSAFE = re.compile(
    "[" + "".join(f"{chr(low)}-{chr(high)}" for low, high in _RANGES[1:]) + "]"
)


def _json_escape(match: re.Match[str]) -> str:
    """One character as JSON writes it by code: past U+FFFF, its UTF-16 surrogate pair."""
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def _yaml_escape(match: re.Match[str]) -> str:
    """One character as a YAML double-quoted scalar writes it by code (``\\U0001d173`` past
    U+FFFF, where JSON's surrogate pair is no character to YAML)."""
    code = ord(match.group())
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def json_text(document: str, escape_one: Callable[[re.Match[str]], str] = _json_escape) -> str:
    """JSON text whose strings hold no raw unsafe character: each is written ``\\uXXXX``.

    The values are unchanged (``json.loads`` gives back exactly the same data); only their
    spelling is, so a bidi override or a C1 control in a name does not reach a terminal, and a
    command valid anywhere in a line (``##[``, ``##vso[``) does not reach a CI log: its ``[``
    is written ``\\u005b``. A ``::`` command needs the start of a line, where JSON text has a
    quote or blanks and a quote."""
    if _COMMAND_MARK in document:
        document = _ANYWHERE.sub(lambda m: m.group()[:-1] + "\\u005b", document)
    if document.isascii() and "\x7f" not in document:
        return document
    return _JSON_UNSAFE.sub(escape_one, document)


def yaml_quoted(value: str) -> str:
    """``value`` as a YAML double-quoted scalar holding no raw unsafe character: JSON's string
    escapes, which YAML's double quotes share, with YAML's own past U+FFFF."""
    return json_text(json.dumps(value, ensure_ascii=False), _yaml_escape)
