"""Value types shared by the readers, the pure core and the writers, never changed once built
(DesiredUser, made once per desired user, is not frozen for the reason Change is not:
``entrasync.core.items``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import NamedTuple

# The SCIM core User schema (RFC 7643 section 4.1); its attributes may be named in full as
# ``<USER_SCHEMA>:<attribute>`` (RFC 7644 section 3.10), which is the same as ``<attribute>``.
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
USER_SCHEMA_PREFIX = USER_SCHEMA.lower() + ":"  # URNs compare case-blind (RFC 8141)


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


class GroupSummary(NamedTuple):
    """A group as `entrasync groups` lists it."""

    id: str
    display_name: str
    members: int  # user members (transitive when nested_groups)


# The statuses validate --online refuses: missing, ambiguous, misnamed or mapped twice. `plan`
# refuses the same of the synced mappings; validate checks every mapping, an `auto_sync: false`
# one too, which the next edit may turn on.
FAILING = frozenset({"missing", "ambiguous", "mismatch", "duplicate"})


@dataclass(frozen=True)
class GroupCheck:
    """One mapped group as `validate --online` found it."""

    mapping: str  # how the mapping names the group (name, else id)
    group_id: str | None
    display_name: str | None
    members: int | None  # user members (transitive when nested_groups)
    status: str  # ok | empty | missing | ambiguous | mismatch | duplicate
    detail: str = ""
    synced: bool = True
    hint: str = ""  # what to do about a failing status, as `plan` would say it

    @property
    def failed(self) -> bool:
        """Missing, ambiguous, misnamed or mapped twice: validate --online refuses it (and
        `plan` too, when the mapping is synced)."""
        return self.status in FAILING


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
    # The Entra users that `protected` names by UPN or mail, members or not (lower-cased ids):
    # a break-glass account is usually in no synced group, and still never deactivated.
    protected_ids: frozenset[str] = frozenset()
    # The `protected` entries (lower-cased) that name no Entra user.
    protected_unknown: frozenset[str] = frozenset()
    # The users of protected_ids as the lookups read them (their UPN and mail), by id: the
    # NeuralTrust user their match key finds may be theirs, members or not.
    protected_users: Mapping[str, DirectoryUser] = field(default_factory=dict)


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
    # meta.version, when the server versions users: not state, so no part of equality.
    version: str | None = field(default=None, compare=False)
    # Whether the server sent `active`: absent reads as active (RFC 7643 leaves it optional),
    # but a server that leaves out false values makes an inactive owner look active, so
    # min_owners never counts on an owner whose activity was not said.
    active_said: bool = field(default=True, compare=False)
    # Whether the role attribute held `role` alone: chosen from several values (`member` as
    # primary, `owner` beside it), it may not be the role NeuralTrust goes by, so min_owners
    # never counts on such an owner.
    role_alone: bool = field(default=True, compare=False)


class RoleRanks:
    """The rank of each role of a vocabulary (0: the first, the owner role), whatever case or
    blanks around it a role is given in, as :func:`may_be_role` compares roles."""

    def __init__(self, roles: Sequence[str]) -> None:
        self._ranks = {role.strip().casefold(): rank for rank, role in enumerate(roles)}

    def of(self, role: str | None) -> int | None:
        """``role``'s rank; None for a role the vocabulary does not rank (or none)."""
        return None if role is None else self._ranks.get(role.strip().casefold())


def may_be_role(value: object, role: str) -> bool:
    """Whether NeuralTrust may take a role ``value`` read over SCIM for ``role``: role values
    are not case-exact (RFC 7643 §8.7.1) and a reader may trim blanks, so ``Owner`` and
    ``owner `` may be owners, or not. ``min_owners`` counts such a user among the owners a plan
    takes away (never among those it leaves), the labels flag a change of it, and ``init``
    protects it as an owner; a plan still writes ``role`` as the vocabulary spells it."""
    return isinstance(value, str) and value.strip().casefold() == role.casefold()


# The fields of a TargetUser the fingerprint covers: every attribute read, in a fixed order,
# and what the role and active attributes said beyond their value (a role value added beside
# `member`, an `active` no longer sent), which apply's writes and the owner count depend on.
_STATE_FIELDS = attrgetter(
    "id",
    "user_name",
    "external_id",
    "display_name",
    "email",
    "active",
    "role",
    "products",
    "active_said",
    "role_alone",
)
# ASCII output, no whitespace: a lone surrogate a SCIM server sent in a name is escaped, where
# canonical JSON (UTF-8) would refuse it and with it the whole plan.
_STATE_ENCODER = json.JSONEncoder(separators=(",", ":"))
_BY_ID = attrgetter("id")


def state_fingerprint(users: Iterable[TargetUser]) -> str:
    """sha256 of every user's read attributes, as one JSON array of per-user arrays sorted by
    SCIM id: the plan's state_sha256. Compared only with a later read by the same version, so
    it is a fingerprint, not canonical JSON (RFC 8785 has no lone surrogates)."""
    rows = [_STATE_FIELDS(user) for user in sorted(users, key=_BY_ID)]  # a read's ids are unique
    return hashlib.sha256(_STATE_ENCODER.encode(rows).encode("ascii")).hexdigest()


@dataclass(frozen=True)
class Target:
    """The NeuralTrust side as read: every user and the fingerprint of that state."""

    scim_url: str
    users: tuple[TargetUser, ...]
    state_sha256: str = field(default="")

    @classmethod
    def of(cls, scim_url: str, users: Iterable[TargetUser]) -> Target:
        frozen = tuple(users)
        return cls(scim_url, frozen, state_sha256=state_fingerprint(frozen))


@dataclass(slots=True, unsafe_hash=True)
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
    # Excluded Entra ids (lower-cased) still in a synced group but not matchable (a member id
    # whose user was not read): their NeuralTrust user is left as it is, never deactivated as
    # an orphan.
    held: frozenset[str] = frozenset()
    # Entra ids (lower-cased) excluded because `protected` lists them: never changed.
    protected: frozenset[str] = frozenset()
    # The `protected` entries (lower-cased) that name no Entra user (Directory's).
    protected_unknown: frozenset[str] = frozenset()
    # A match key several desired users share (two Entra users with one mail) -> their Entra
    # ids, sorted: none of them is matched by it.
    shared_keys: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Under match_on: email, every Entra user read (members and protected), by lower-cased
    # UPN -> its Entra id: a NeuralTrust user the mail finds whose userName is another's UPN
    # is that other's (a hybrid admin account's mail is often its owner's UPN).
    upn_owners: Mapping[str, str] = field(default_factory=dict)
    # Under first-match, the desired users (Entra ids) decided by a mapping that a mapping read
    # empty comes before and grants less than: had the empty group been read, it might have
    # capped them. What the plan gives them more is held to source_health (core/safety.py).
    uncapped: frozenset[str] = frozenset()
