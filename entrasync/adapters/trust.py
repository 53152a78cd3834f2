"""Which CA certificates entrasync's HTTPS clients trust: one SSL context from the environment.

- ``ENTRASYNC_CA_BUNDLE``: a PEM file trusted by entrasync alone, *in addition to* the rest.
  The sandbox points it at its throwaway CA, so sourcing ``sandbox.env`` changes nothing for
  pip, git or curl in that shell (docs/sandbox.md).
- ``SSL_CERT_FILE`` and ``REQUESTS_CA_BUNDLE``: the standard variables, a bundle that
  *replaces* the system's trust store, as httpx and requests read them. The httpx clients
  (Graph, SCIM, the review platforms) take ``SSL_CERT_FILE``, msal's token requests (requests)
  ``REQUESTS_CA_BUNDLE``; with only one set, it serves both (docs/entra.md).
- Else the system's trust store.

A variable naming a file that is gone or holds no PEM certificate is an ``error:`` naming the
variable and the file; one that looks like a stopped sandbox's says to source the new
``sandbox.env`` (docs/troubleshooting.md).
"""

from __future__ import annotations

import functools
import os
import ssl
from collections.abc import Mapping
from pathlib import PurePath

from entrasync.adapters.deadline import keeping_deadlines
from entrasync.adapters.pathvars import shown_path, why_not_shown
from entrasync.core import sanitize
from entrasync.errors import EntrasyncError

EXTRA_CA_VARIABLE = "ENTRASYNC_CA_BUNDLE"
STANDARD_CA_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")  # httpx's first
REQUESTS_CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")  # requests' (msal's) first
# How a sandbox's files are recognised in a stale variable: its CA is a temporary file with
# this prefix, and `entrasync sandbox` keeps its files in a folder of this name by default.
SANDBOX_CA_PREFIX = "entrasync-sandbox-ca-"
SANDBOX_FOLDER = "entrasync-sandbox"
STALE_SANDBOX_HINT = (
    "the sandbox that wrote sandbox.env has stopped or restarted: start `entrasync sandbox` "
    "and `source` the sandbox.env it writes, or leave the sandbox by unsetting its variables "
    "(or opening a new shell)"
)
CA_HINT = (
    "trust the server's CA with ENTRASYNC_CA_BUNDLE (entrasync only, on top of the system's), "
    "or replace the system's with SSL_CERT_FILE (or REQUESTS_CA_BUNDLE)"
)
LOOPBACK_GONE_HINT = (
    f"nothing answers at that loopback address; if it came from sandbox.env, {STALE_SANDBOX_HINT}"
)


def ssl_context(environ: Mapping[str, str], *, for_requests: bool = False) -> ssl.SSLContext:
    """A client context trusting what the environment says (module docstring).

    Loading a trust store costs about 25 ms, so the httpx clients of one run share one context
    per set of files (keyed by their paths and stat, so a rewritten file is read again); httpx
    never changes a context it is given. ``for_requests``: msal's session, whose urllib3 sets
    attributes on its context, so it has one of its own, and which reads
    ``REQUESTS_CA_BUNDLE`` first.
    """
    files = (_file(environ, _standard(environ, for_requests)), _file(environ, EXTRA_CA_VARIABLE))
    return _new_context(*files) if for_requests else _shared_context(*files)


def _standard(environ: Mapping[str, str], for_requests: bool) -> str | None:
    """The standard variable a client of that library trusts, if one is set."""
    order = REQUESTS_CA_VARIABLES if for_requests else STANDARD_CA_VARIABLES
    return next((name for name in order if _set(environ, name)), None)


def ca_hint(environ: Mapping[str, str], *, for_requests: bool = False) -> str:
    """What to do about a certificate :func:`ssl_context` does not trust: :data:`CA_HINT`, or,
    where a standard variable replaced the system's store, that variable by name."""
    name = _standard(environ, for_requests)
    if name is None:
        return CA_HINT
    value = environ[name].strip()
    shown = why_not_shown(value) or f"({sanitize.text(value)})"
    return (
        f"{name} {shown} replaces the system's trust store here: put the server's CA in that "
        f"bundle, or add it for entrasync alone with {EXTRA_CA_VARIABLE}"
    )


_File = tuple[str, str, tuple[int, int, int] | None]  # variable, path, stat (to key the cache)


def _file(environ: Mapping[str, str], name: str | None) -> _File | None:
    if name is None or not _set(environ, name):
        return None
    path = environ[name].strip()
    try:
        found = os.stat(path)
    except OSError:
        return name, path, None
    return name, path, (found.st_ino, found.st_size, found.st_mtime_ns)


def _new_context(standard: _File | None, extra: _File | None) -> ssl.SSLContext:
    context = ssl.create_default_context() if standard is None else _trusting(None, *standard[:2])
    return keeping_deadlines(context if extra is None else _trusting(context, *extra[:2]))


_shared_context = functools.lru_cache(maxsize=4)(_new_context)


def from_sandbox(path: str) -> bool:
    """Whether ``path`` looks like one a sandbox wrote (its CA file, or its folder)."""
    pure = PurePath(path)
    return pure.name.startswith(SANDBOX_CA_PREFIX) or SANDBOX_FOLDER in pure.parts


def _set(environ: Mapping[str, str], name: str) -> bool:
    return bool(environ.get(name, "").strip())


def _trusting(context: ssl.SSLContext | None, name: str, path: str) -> ssl.SSLContext:
    """``context`` also trusting the PEM file ``path``; None: a context trusting only it (the
    standard variables replace the system's store, as in httpx and requests)."""
    try:
        if context is None:
            return ssl.create_default_context(cafile=path)
        context.load_verify_locations(cafile=path)
        return context
    except FileNotFoundError:
        problem = "which does not exist"
    except ssl.SSLError:  # before OSError, of which it is a subclass
        problem = "which holds no PEM certificate"
    except OSError as exc:
        problem = f"which cannot be read ({exc.strerror or exc})"
    hint = (
        STALE_SANDBOX_HINT
        if from_sandbox(path)
        else f"point {name} at a PEM file of trusted CA certificates, or unset it"
    )
    raise EntrasyncError(f"{name} names {sanitize.text(shown_path(path))}, {problem}", hint)
