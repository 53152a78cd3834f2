"""Frozen value types shared by the readers, the pure core and the writers."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from operator import attrgetter, itemgetter


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    """An Entra user as read from Microsoft Graph (only the fields entrasync selects)."""

    id: str
    user_principal_name: str
    mail: str | None = None
    display_name: str | None = None
    given_name: str | None = None
    surname: str | None = None
    account_enabled: bool = True
    user_type: str = "Member"  # "Member" | "Guest"

    @property
    def is_guest(self) -> bool:
        return self.user_type.lower() == "guest"


@dataclass(frozen=True, slots=True)
class Group:
    id: str
    display_name: str


@dataclass(frozen=True, slots=True)
class GroupMembers:
    """One synced mapping's group and its user members (transitive when nested_groups)."""

    mapping_index: int  # index into Config.mappings
    group: Group
    member_ids: tuple[str, ...]  # Entra object ids of user members, in the order read


@dataclass(frozen=True)
class Directory:
    """What the Graph reader saw: the synced groups and every user member of them."""

    groups: tuple[GroupMembers, ...]
    users: Mapping[str, DirectoryUser]  # by Entra object id


@dataclass(frozen=True, slots=True)
class TargetUser:
    """A NeuralTrust user as read over SCIM, reduced to the attributes entrasync reads."""

    id: str  # SCIM resource id
    user_name: str
    external_id: str | None = None
    display_name: str | None = None
    email: str | None = None  # the primary (else work, else first) email
    active: bool = True
    role: str | None = None  # first value of the configured role attribute
    products: tuple[str, ...] | None = None  # sorted values; None when the attribute is absent


# The fields of a TargetUser the fingerprint covers: every attribute read, in a fixed order.
_STATE_FIELDS = attrgetter(
    "id", "user_name", "external_id", "display_name", "email", "active", "role", "products"
)
# ASCII output (lone surrogates escaped), no whitespace.
_STATE_ENCODER = json.JSONEncoder(separators=(",", ":"))
_STATE_CHUNK = 1000  # rows per encoder call


def state_fingerprint(users: Iterable[TargetUser]) -> str:
    """sha256 of every user's read attributes, as one JSON array of per-user arrays sorted by
    SCIM id: the plan's state_sha256. Compared only with a later read by the same version, so
    it need not be RFC 8785 (a dict per user and the canonical encoder took ~0.4 s on 100,000
    users).

    The C encoder writes a thousand rows per call: in one call for 60,000 users it held the GIL
    for 0.17 s while the Graph read was still paging, and every page waited (benchmarks/).
    """
    rows = sorted(map(_STATE_FIELDS, users), key=itemgetter(0))
    digest = hashlib.sha256(b"[")
    for start in range(0, len(rows), _STATE_CHUNK):
        part = _STATE_ENCODER.encode(rows[start : start + _STATE_CHUNK])  # "[row,...,row]"
        digest.update(b"," if start else b"")
        digest.update(part[1:-1].encode("ascii"))
    digest.update(b"]")
    return digest.hexdigest()


@dataclass(frozen=True)
class Target:
    """The NeuralTrust side as read: every user and the fingerprint of that state."""

    scim_url: str
    users: tuple[TargetUser, ...]
    state_sha256: str = field(default="")

    @classmethod
    def of(cls, scim_url: str, users: Iterable[TargetUser]) -> Target:
        frozen = tuple(users)
        return cls(scim_url=scim_url, users=frozen, state_sha256=state_fingerprint(frozen))


@dataclass(frozen=True, slots=True)
class DesiredUser:
    """What the mappings want for one Entra user."""

    user: DirectoryUser
    key: str  # the match key, lower-cased (UPN, mail or object id per match_on)
    role: str
    products: tuple[str, ...] | None  # sorted, on product roles only
    groups: tuple[str, ...]  # display names of every synced mapped group the user is in
    decided_by: str  # display name of the group whose mapping decided


@dataclass(frozen=True)
class Resolution:
    """resolve(): the desired users plus the users seen but excluded, with why."""

    desired: Mapping[str, DesiredUser]  # by Entra object id
    excluded: Mapping[str, str] = field(default_factory=dict)  # Entra id -> reason
    warnings: tuple[str, ...] = ()
