"""OData pieces of the emulated Graph: $select projection, $filter, $top and page tokens.

Shapes follow https://learn.microsoft.com/graph/api/group-list-members and
https://learn.microsoft.com/graph/api/resources/user (default properties, select-only ones).
"""

from __future__ import annotations

import datetime
import re
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from entrasync.sandbox.tenant import SandboxGroup, SandboxObject, SandboxUser

DirectoryEntry = SandboxUser | SandboxGroup | SandboxObject
MAX_TOP = 999
DEFAULT_TOP = 100


@dataclass(frozen=True)
class GraphFailure(Exception):
    """A Graph error to send back: the handler adds request ids and dates."""

    status: int
    code: str
    message: str
    headers: tuple[tuple[str, str], ...] = ()

    def body(self, request_id: str, client_request_id: str | None = None) -> dict[str, Any]:
        """The error shape of https://learn.microsoft.com/graph/errors."""
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "innerError": {
                    "date": now,
                    "request-id": request_id,
                    "client-request-id": client_request_id or request_id,
                },
            }
        }


def bad_request(message: str, code: str = "Request_BadRequest") -> GraphFailure:
    return GraphFailure(400, code, message)


def not_found(object_id: str) -> GraphFailure:
    return GraphFailure(
        404,
        "Request_ResourceNotFound",
        f"Resource '{object_id}' does not exist or one of its queried reference-property "
        "objects are not present.",
    )


Getter = Callable[[Any], Any]

_USER_PROPS: dict[str, Getter] = {
    "id": lambda u: u.id,
    "businessPhones": lambda u: [],
    "displayName": lambda u: u.display_name,
    "givenName": lambda u: u.given_name,
    "jobTitle": lambda u: None,
    "mail": lambda u: u.mail,
    "mobilePhone": lambda u: None,
    "officeLocation": lambda u: None,
    "preferredLanguage": lambda u: None,
    "surname": lambda u: u.surname,
    "userPrincipalName": lambda u: u.user_principal_name,
    # Returned only when named in $select (https://learn.microsoft.com/graph/api/user-list).
    "accountEnabled": lambda u: u.account_enabled,
    "userType": lambda u: u.user_type,
    "otherMails": lambda u: [],
    "externalUserState": lambda u: u.external_user_state,
}
_USER_DEFAULT = tuple(list(_USER_PROPS)[:11])

_GROUP_PROPS: dict[str, Getter] = {
    "id": lambda g: g.id,
    "deletedDateTime": lambda g: None,
    "description": lambda g: g.description,
    "displayName": lambda g: g.display_name,
    "groupTypes": lambda g: [],
    "mail": lambda g: None,
    "mailEnabled": lambda g: False,
    "mailNickname": lambda g: re.sub(r"[^A-Za-z0-9]", "", g.display_name) or "group",
    "securityEnabled": lambda g: True,
    "visibility": lambda g: None,
}

_OTHER_PROPS: dict[str, dict[str, Getter]] = {
    "device": {
        "id": lambda o: o.id,
        "displayName": lambda o: o.display_name,
        "accountEnabled": lambda o: True,
        "deviceId": lambda o: o.id,
        "operatingSystem": lambda o: "Windows",
    },
    "servicePrincipal": {
        "id": lambda o: o.id,
        "displayName": lambda o: o.display_name,
        "accountEnabled": lambda o: True,
        "appId": lambda o: o.id,
        "servicePrincipalType": lambda o: "Application",
    },
    "orgContact": {
        "id": lambda o: o.id,
        "displayName": lambda o: o.display_name,
        "mail": lambda o: None,
        "givenName": lambda o: None,
        "surname": lambda o: None,
    },
}


def _props_of(entry: DirectoryEntry) -> tuple[str, dict[str, Getter], Sequence[str]]:
    if isinstance(entry, SandboxUser):
        return "user", _USER_PROPS, _USER_DEFAULT
    if isinstance(entry, SandboxGroup):
        return "group", _GROUP_PROPS, tuple(_GROUP_PROPS)
    props = _OTHER_PROPS[entry.kind]
    return entry.kind, props, tuple(props)


def parse_select(values: Sequence[str]) -> tuple[str, ...] | None:
    if not values:
        return None
    return tuple(p.strip() for p in ",".join(values).split(",") if p.strip())


def project(
    entry: DirectoryEntry,
    select: tuple[str, ...] | None,
    *,
    typed: bool,
    only_ids: bool = False,
) -> dict[str, Any]:
    """One object as Graph returns it; ``only_ids`` is the GroupMember.Read.All-only view."""
    kind, props, default = _props_of(entry)
    by_lower = {name.lower(): name for name in props}
    if select is None:
        names: Sequence[str] = default
    else:
        names = [by_lower[s.lower()] for s in select if s.lower() in by_lower]
    out: dict[str, Any] = {"@odata.type": f"#microsoft.graph.{kind}"} if typed else {}
    out["id"] = entry.id  # directory objects always carry their id, selected or not
    for name in names:
        if name != "id":
            out[name] = None if only_ids else props[name](entry)
    return out


_EQ = re.compile(r"^\s*displayName\s+eq\s+'((?:[^']|'')*)'\s*$", re.IGNORECASE)
_STARTS = re.compile(
    r"^\s*startswith\(\s*displayName\s*,\s*'((?:[^']|'')*)'\s*\)\s*$", re.IGNORECASE
)


def group_filter(expression: str | None) -> Callable[[SandboxGroup], bool]:
    """``displayName eq '…'`` and ``startswith(displayName,'…')``, case-insensitive as in Entra."""
    if expression is None:
        return lambda g: True
    if match := _EQ.match(expression):
        wanted = match.group(1).replace("''", "'").casefold()
        return lambda g: g.display_name.casefold() == wanted
    if match := _STARTS.match(expression):
        prefix = match.group(1).replace("''", "'").casefold()
        return lambda g: g.display_name.casefold().startswith(prefix)
    raise bad_request("Unsupported Query.", code="Request_UnsupportedQuery")


_MAIL_EQ = re.compile(r"^\s*mail\s+eq\s+'((?:[^']|'')*)'\s*$", re.IGNORECASE)


def mail_filter(expression: str | None) -> str:
    """The address of ``mail eq '…'``, casefolded: the one user filter entrasync sends."""
    match = _MAIL_EQ.match(expression or "")
    if match is None:
        raise bad_request("Unsupported Query.", code="Request_UnsupportedQuery")
    return match.group(1).replace("''", "'").casefold()


def parse_top(values: Sequence[str]) -> int:
    if not values:
        return DEFAULT_TOP
    raw = values[-1]
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_TOP:
        raise bad_request(
            f"Invalid page size specified: '{raw}'. Must be between 1 and {MAX_TOP} inclusive."
        )
    return int(raw)


def require_eventual(headers: Mapping[str, str], what: str) -> None:
    """$count needs ``ConsistencyLevel: eventual`` (https://learn.microsoft.com/graph/aad-advanced-queries)."""
    if headers.get("consistencylevel", "").strip().lower() != "eventual":
        raise bad_request(f"{what} is not currently supported.")


PageKind = Literal["groups", "members", "transitiveMembers"]


class PageTokens:
    """Opaque $skiptoken values, remembered server-side as (path, offset)."""

    def __init__(self) -> None:
        self._pages: dict[str, tuple[str, int]] = {}
        self._lock = threading.Lock()

    def issue(self, path: str, offset: int) -> str:
        token = "X" + secrets.token_urlsafe(24)
        with self._lock:
            self._pages[token] = (path, offset)
        return token

    def offset(self, path: str, values: Sequence[str]) -> int:
        if not values:
            return 0
        with self._lock:
            page = self._pages.get(values[-1])
        if page is None or page[0] != path:
            raise bad_request(
                "The specified page token value has expired and can no longer be included in "
                "your request.",
                code="Directory_ExpiredPageToken",
            )
        return page[1]

    def expire_all(self) -> None:
        with self._lock:
            self._pages.clear()
