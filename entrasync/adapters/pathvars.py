"""A path set in a variable (``AZURE_CLIENT_CERTIFICATE_PATH``, ``SSL_CERT_FILE``, ...) as an
error shows it: a secret set in its place by mistake is not printed.
"""

from __future__ import annotations

import re
from pathlib import Path


def shown_path(value: str) -> str:
    """A ``*_PATH`` / ``*_FILE`` value as an error shows it: the value, or
    :func:`why_not_shown` in brackets."""
    return why_not_shown(value) or value


def why_not_shown(value: str) -> str | None:
    """Why a ``*_PATH`` / ``*_FILE`` value is not shown, in brackets, or None to show it: not
    when it looks like the secret itself (a PEM or a JWT put in the variable instead of a
    file's path), nor when it looks like no path at all (no folder that exists and no
    certificate or token file's extension: a client secret set in its place)."""
    if "\n" in value or "-----BEGIN" in value or value.startswith("eyJ") or len(value) > 1024:
        return "(not shown: the value looks like a certificate or token itself, not a path)"
    if _FILE_KIND.search(value) or _in_a_folder_there(value):
        return None
    return "(not shown: no .pem or token file, nor a folder that exists: it may be a secret)"


# The extension of a certificate or token file.
_FILE_KIND = re.compile(r"\.(pem|crt|cer|key|jwt|token|txt)\Z", re.IGNORECASE)


def _in_a_folder_there(value: str) -> bool:
    """A path in a folder that exists, other than the root: a base64 secret holds "/" too
    (even first), but names no folder."""
    path = Path(value)
    try:
        return (
            ("/" in value or "\\" in value)
            and path.parent != Path(path.anchor)
            and (path.parent.is_dir())
        )
    except (OSError, ValueError):  # a name too long, a NUL
        return False
