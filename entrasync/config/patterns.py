"""The patterns the mappings file's values must match (the JSON Schema carries them), each with
the problem its mismatch is reported as."""

from __future__ import annotations

import re
import unicodedata

GUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_GUID = re.compile(GUID_PATTERN)


def is_guid(value: object) -> bool:
    """Whether ``value`` is a GUID as Entra writes its ids (either case, no braces)."""
    return isinstance(value, str) and _GUID.fullmatch(value) is not None


# Not in an email or UPN: blanks, controls, and the characters that only hide or fake text
# (bidi controls, zero-width ones, the BOM). An entry of `protected` holding an invisible one
# matched no user, and left the account it named unprotected with nothing said. Written as
# \uXXXX so that Python's re, pydantic's Rust regex and editors' ECMAScript regex read it alike
# (their \s differ: only ECMAScript's holds U+FEFF).
# Those past U+FFFF (tag characters, more variation selectors) no one class reads alike in all
# three: unseen_in_address() finds them, for `entrasync validate`.
_HIDDEN = (
    r"\u0000-\u001f\u007f-\u009f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"
    r"\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb"
)
_NOT_IN_ADDRESS = rf"\s{_HIDDEN}"
# user@domain.tld; guest UPNs (alice_contoso.com#EXT#@fabrikam.onmicrosoft.com) match too.
UPN_PATTERN = rf"^[^@{_NOT_IN_ADDRESS}]+@[^@.{_NOT_IN_ADDRESS}]+(\.[^@.{_NOT_IN_ADDRESS}]+)+$"
_UNSEEN = re.compile(rf"[^\S ]|[{_HIDDEN}]|[\U000e0000-\U000e0fff]")
# Not Cn (unassigned): which characters are depends on the Python (its Unicode version).
_UNSEEN_KINDS = {"Cc", "Cf", "Co", "Cs", "Zl", "Zp", "Zs"}


def unseen_in_address(value: str) -> str | None:
    """The first character of ``value`` that no email address or UPN holds and that may not
    show (a control, a format or private-use character, a blank but the space, a filler, a
    variation selector, even one inside an emoji); None when there is none."""
    for char in value:
        if char != " " and (unicodedata.category(char) in _UNSEEN_KINDS or _UNSEEN.match(char)):
            return char
    return None


# No blank and no hidden character: Python's \S took U+FEFF (ECMAScript's \s holds it), and a
# zero-width space in a host passed validate, dropped by Python's IDNA codec, then failed plan.
URL_PATTERN = rf"^https?://[^{_NOT_IN_ADDRESS}]+$"
# A SCIM attribute name (RFC 7643 section 2.1: a letter, then letters, digits, "-" or "_"),
# after an extension's URN for an extension attribute. A blank name read every role as none.
ATTRIBUTE_PATTERN = rf"^(urn:[^{_NOT_IN_ADDRESS}]+:)?[A-Za-z][A-Za-z0-9_-]*$"
