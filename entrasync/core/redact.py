"""Credentials never leave in text: every credential this process holds is known here, and
text that may carry one (a server's answer, an error told to the user) is searched for it in
the forms a server may echo it in: as sent, in another case, percent- or JSON-escaped, or cut
over lines.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

MASK = "***"
WITHHELD = "(withheld: it held a credential)"
_SHORTEST = 8  # shorter values are no real credential, and would mask letters of words
_known: set[str] = set()
_IGNORED = re.compile(r"[\s+]+")  # a line cut, a form-encoded space or plus, a space


def remember(value: str) -> None:
    """Keep ``value`` from every text :func:`redact` is given from now on."""
    value = value.strip()
    if len(value) >= _SHORTEST:
        _known.add(value)


def _flat(text: str) -> str:
    return _IGNORED.sub("", unquote(text.replace("\\/", "/"))).casefold()


def redact(text: str) -> str:
    """``text`` with each known credential masked; all of it withheld when one is still there
    in another form, where masking could not be trusted to catch every piece of it."""
    if not _known or not text:
        return text
    for value in _known:
        text = text.replace(value, MASK)
    flat = _flat(text)
    if any(_flat(value) in flat for value in _known):
        return WITHHELD
    return text
