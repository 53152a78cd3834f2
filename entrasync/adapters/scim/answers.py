"""What NeuralTrust's SCIM answers mean: errors translated once (RFC 7644 §3.12), and the
answers to writes that say nothing of whether the write was made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from entrasync.adapters.http import (
    TransportError,
    answered_after,
    asked_to_wait,
    error_detail,
    json_of,
    server_text,
)
from entrasync.adapters.scim.paging import as_integer
from entrasync.core.redact import holds_credential
from entrasync.errors import AuthError, ScimError

TOKEN_ENV = "NEURALTRUST_SCIM_TOKEN"
URL_ENV = "NEURALTRUST_SCIM_URL"
REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-correlation-id", "x-ms-request-id")
TOKEN_HINT = (
    "generate a new token in NeuralTrust Settings → SSO → SCIM Provisioning (regenerating "
    f"revokes the old one at once) and update the {TOKEN_ENV} secret"
)


class ScimAuthError(ScimError, AuthError):
    """401/403 from SCIM: both a credential problem and a SCIM answer (status, request id)."""


class ScimWaitError(ScimError):
    """A 429, 503 or 504 whose Retry-After is longer than entrasync waits: every other request
    would be told the same, so apply starts no further write."""


@dataclass(frozen=True, slots=True)
class ScimResponse:
    """A successful write: the HTTP status, the server's request id, the resource if returned."""

    status: int
    request_id: str | None
    resource: dict[str, Any] | None


def request_id_of(response: httpx.Response) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value = response.headers.get(name)
        if value:
            return server_text(response, str(value), 100)
    return None


@dataclass(frozen=True)
class Where:
    """The endpoint a client sends to, as its errors name it: the URL and where it came from
    (a variable, the mappings file, the default); ``proven`` once a request there succeeded,
    so that a later 401 is the token's alone."""

    at: str
    proven: bool = False


def error_for(response: httpx.Response, doing: str, **how: Any) -> ScimError:
    """:func:`_error_for`, knowing the status of an earlier attempt of the write it answers."""
    error = _error_for(response, doing, **how)
    error.after = answered_after(response)
    return error


def _error_for(
    response: httpx.Response,
    doing: str,
    *,
    one_user: bool = False,
    status: int | None = None,
    where: Where | None = None,
) -> ScimError:
    """Translate a SCIM error response into the one exception the CLI and apply understand.

    ``one_user``: the request named one user (``/Users/{id}``), so a 404 means it vanished;
    elsewhere a 404 means the endpoint URL is wrong. ``status``: the one an Error body sent
    with 200 says, in place of the response's. ``where``: the endpoint the client sends to,
    which a refused token names (a misspelt URL variable sent it to the default).
    """
    status = response.status_code if status is None else status
    request_id = request_id_of(response)
    scim_type, detail = _error_body(response)
    suffix = f" (request id {request_id})" if request_id else ""
    with_id = " with the request id" if request_id else ""
    said = f": {detail}" if detail else ""
    if status == 401:
        return ScimAuthError(
            "the NeuralTrust SCIM token is expired or invalid (HTTP 401"
            + (f" from {where.at}" if where else "")
            + ")"
            + suffix,
            (
                f"check that {where.at} is the organization's SCIM endpoint; if it is, "
                if where and not where.proven
                else ""
            )
            + TOKEN_HINT,
            status=status,
            request_id=request_id,
        )
    if status == 403:
        return ScimAuthError(
            f"NeuralTrust refused {doing} (403 Forbidden){said}{suffix}",
            "SCIM tokens are created by the organization Owner; check that the token's owner "
            "still has that role and that SCIM provisioning is enabled",
            status=status,
            request_id=request_id,
        )
    if status == 409:
        # A create sets userName (and externalId, emails); an update sets no userName, but may
        # set externalId (an adoption). Which value clashed, the server's detail says.
        taken = "a unique value it sets" if one_user else "this userName or another unique value"
        unique = scim_type == "uniqueness"
        what = f": another user already has {taken}" if unique else ""
        # The cause only: apply, which alone writes, says to plan again after its failures.
        hint = (
            "a user in NeuralTrust holds a value this write sets (made by hand, or by another run)"
        )
        if detail:
            hint += ": the server's words above say which"
        return ScimError(
            f"NeuralTrust refused {doing}: conflict (409{', ' + scim_type if scim_type else ''})"
            f"{what}{said}{suffix}",
            hint if unique or not scim_type else REFUSED_HINT + with_id,  # mostly a clash
            status=status,
            request_id=request_id,
        )
    if status == 404 and not one_user:
        return ScimError(
            f"NeuralTrust answered 404 Not Found to {doing}{suffix}: "
            + (f"{where.at} is not a SCIM endpoint" if where else "this is not a SCIM endpoint"),
            f"check {URL_ENV} / neuraltrust.scim_url: NeuralTrust's ends in /api/scim/v2",
            status=status,
            request_id=request_id,
        )
    if status == 404:
        return ScimError(
            f"the NeuralTrust user vanished while {doing} (404 Not Found){suffix}",
            "someone deleted it in NeuralTrust; run `entrasync plan` again",
            status=status,
            request_id=request_id,
        )
    asked = asked_to_wait(response)
    if asked:
        return ScimWaitError(
            f"NeuralTrust answered {status} to {doing}{asked}{said}{suffix}",
            "run again once that time has passed",
            status=status,
            request_id=request_id,
        )
    refused = 400 <= status < 500 and status not in (408, 429)  # the same request fails again
    # RFC 7644 section 3.12: the detail is optional, the scimType says what failed.
    kind = f" ({scim_type})" if scim_type else ""
    hint = (REFUSED_HINT if refused else AGAIN_HINT) + with_id
    if scim_type in ("invalidPath", "noTarget"):  # an attribute the server does not have
        hint = ATTRIBUTE_HINT
    return ScimError(
        f"NeuralTrust answered {status}{kind} to {doing}{said}{suffix}",
        hint,
        status=status,
        request_id=request_id,
    )


ATTRIBUTE_HINT = (
    "NeuralTrust has no such attribute: check neuraltrust.role_attribute and "
    "neuraltrust.products_attribute in the mappings file (docs/neuraltrust-scim.md)"
)
AGAIN_HINT = "retry later; if it persists, contact NeuralTrust support"
REFUSED_HINT = (
    "NeuralTrust refused the request itself, and a retry sends the same one: check the value "
    "it names against the attributes the mappings write (docs/neuraltrust-scim.md); if it "
    "looks right, contact NeuralTrust support"
)


_ERROR_MEMBERS = frozenset(("schemas", "status", "scimtype", "detail"))


def _error_body(response: httpx.Response) -> tuple[str | None, str | None]:
    # Imported here: scim2-models takes ~0.2 s to import and only error answers need it.
    from pydantic import ValidationError
    from scim2_models import Error

    try:
        body = json_of(response)
        if isinstance(body, dict):  # scim2-models refuses members RFC 7644 §3.12 does not name,
            # and servers and gateways add theirs (a timestamp, a traceId): those are left out.
            body = {k: v for k, v in body.items() if str(k).lower() in _ERROR_MEMBERS}
        error = Error.model_validate(body) if body else None
    except (ValueError, ValidationError):
        error = None
    if error is None or not (error.detail or error.scim_type or "schemas" in body):
        # No SCIM Error (a gateway's page, a framework's {"message": ...}): the start of what
        # it says, as the review platforms' errors show theirs.
        return None, error_detail(response, "detail", "message", "error") or None
    scim_type = server_text(response, str(error.scim_type), 100) if error.scim_type else None
    detail = server_text(response, error.detail, 300) if error.detail else None
    return scim_type, detail


def refuse_error_body(
    response: httpx.Response,
    doing: str,
    *,
    one_user: bool = False,
    body: object = None,
    where: Where | None = None,
) -> None:
    """A SCIM Error sent with a 2xx status (a gateway, a proxy) is that error: its own status
    says which. Taken as the success its status claims, a refused write was recorded done."""
    if body is None:
        if not response.content:
            return
        try:
            body = json_of(response)
        except ValueError:
            return
    if not isinstance(body, dict) or not is_error(body):
        return
    status = as_integer(body.get("status")) or 0  # "²" is a digit to str.isdigit()
    raise error_for(
        response,
        doing,
        one_user=one_user,
        status=status if 400 <= status < 600 else None,
        where=where,
    )


def is_error(body: object) -> bool:
    """A SCIM Error message (RFC 7644 §3.12), by its schema."""
    if not isinstance(body, dict) or not isinstance(body.get("schemas"), list):
        return False
    return any(isinstance(s, str) and s.lower() == ERROR_SCHEMA for s in body["schemas"])


ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:error"  # lower-cased


class ForeignAnswer(TransportError):
    """A write answered with a success status and a body that is no SCIM resource: something
    answers in NeuralTrust's place, so apply starts no later write, whatever this one did.
    ``status`` and ``request_id`` are the answer's, for the audit record."""

    def __init__(self, message: str, hint: str, response: httpx.Response) -> None:
        super().__init__(message, hint)
        self.status: int = response.status_code
        self.request_id = request_id_of(response)


FOREIGN_HINT = f"something answered in NeuralTrust's place (a proxy, a gateway): check {URL_ENV}"


def refuse_echoed_credential(response: httpx.Response, doing: str) -> None:
    """A user read whose answer holds a credential entrasync sent (its token, echoed into a
    name) is not used: the names it holds would carry the token into the plan."""
    if holds_credential(response.content):
        raise ScimError(
            f"NeuralTrust's answer to {doing} holds the token entrasync sent it (its own "
            "Authorization header, echoed): nothing of it is used",
            FOREIGN_HINT,
            200,
        )


def not_scim(doing: str, what: str) -> ScimError:
    """A 200 to a read whose body is not ``what`` (a proxy's or a sign-in page): it says
    nothing of the user, so the read is an error, never "no such user"."""
    return ScimError(
        f"NeuralTrust answered 200 to {doing} with a body that is not {what}",
        FOREIGN_HINT,
        200,
    )


def _is_resource(parsed: object) -> bool:
    """A JSON object naming its ``schemas`` or its ``id``, as every SCIM resource does (RFC 7643
    §3, attribute names in any case): ``{"message": "accepted"}`` is a gateway's."""
    return isinstance(parsed, dict) and any(
        isinstance(key, str) and key.lower() in ("schemas", "id") for key in parsed
    )


def result_of(response: httpx.Response, doing: str) -> ScimResponse:
    """A write's answer: none (204), or the resource. Anything else (a proxy's HTML page) says
    nothing of whether NeuralTrust made the write: apply reads the user back, as when an answer
    is lost, and starts no other write."""
    resource: dict[str, Any] | None = None
    if response.content:
        try:
            parsed = json_of(response)
        except ValueError:
            parsed = None
        if not _is_resource(parsed):
            raise ForeignAnswer(
                f"NeuralTrust answered {response.status_code} to {doing} with a body that is no "
                "SCIM resource: the write may or may not have been made",
                f"{FOREIGN_HINT}, then run `entrasync plan` to see what is in place",
                response,
            )
        resource = parsed
    return ScimResponse(response.status_code, request_id_of(response), resource)
