"""The patterns the mappings file's values must match (the JSON Schema carries them), each with
the problem its mismatch is reported as."""

from __future__ import annotations

GUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# Not in an email or UPN: blanks, controls, and the characters that only hide or fake text
# (bidi controls, zero-width ones, the BOM). An entry of `protected` holding an invisible one
# matched no user, and left the account it named unprotected with nothing said. Written as
# \uXXXX so that Python's re, pydantic's Rust regex and editors' ECMAScript regex read it alike
# (their \s differ: only ECMAScript's holds U+FEFF).
_HIDDEN = (
    r"\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f"
    r"\ufeff\ufff9-\ufffb"
)
_NOT_IN_ADDRESS = rf"\s{_HIDDEN}"
# user@domain.tld; guest UPNs (alice_contoso.com#EXT#@fabrikam.onmicrosoft.com) match too.
UPN_PATTERN = rf"^[^@{_NOT_IN_ADDRESS}]+@[^@.{_NOT_IN_ADDRESS}]+(\.[^@.{_NOT_IN_ADDRESS}]+)+$"
UNSEEN_IN_ADDRESS = rf"[^\S ]|[{_HIDDEN}]"  # what UPN_PATTERN refuses that may not show
URL_PATTERN = r"^https?://\S+$"
# A SCIM attribute name (RFC 7643 section 2.1: a letter, then letters, digits, "-" or "_"),
# after an extension's URN for an extension attribute. A blank name read every role as none.
ATTRIBUTE_PATTERN = r"^(urn:\S+:)?[A-Za-z][A-Za-z0-9_-]*$"
