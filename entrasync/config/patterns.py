"""The patterns the mappings file's values must match (the JSON Schema carries them), each with
the problem its mismatch is reported as."""

from __future__ import annotations

GUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# user@domain.tld; guest UPNs (alice_contoso.com#EXT#@fabrikam.onmicrosoft.com) match too.
UPN_PATTERN = r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$"
URL_PATTERN = r"^https?://\S+$"
# A SCIM attribute name (RFC 7643 section 2.1: a letter, then letters, digits, "-" or "_"),
# after an extension's URN for an extension attribute. A blank name read every role as none.
ATTRIBUTE_PATTERN = r"^(urn:\S+:)?[A-Za-z][A-Za-z0-9_-]*$"
