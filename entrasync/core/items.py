"""The items of a plan: the changes it makes, the orphans and safety violations it reports.

Values never changed once built, each with its ``to_json`` (the plan file's definition of it)
and, for changes, the canonical text the plan's digest and file are made of (see
``entrasync.core.plan``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

from entrasync.core.canonical import (
    canonical_str,
    canonical_str_array,
    canonical_str_or_null,
)
from entrasync.core.strict_json import ShapeError, flag, obj, text, text_or_null, texts

FORCE_UNSAFE = "--force-unsafe"
ADOPT = "adopt existing user (set externalId)"  # the reason diff gives an adoption


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DEACTIVATE = "deactivate"
    REACTIVATE = "reactivate"

    @property
    def order(self) -> int:
        return _ACTION_ORDER[self]


_ACTION_ORDER = {Action.CREATE: 0, Action.UPDATE: 1, Action.DEACTIVATE: 2, Action.REACTIVATE: 3}


# Access and Change, made once per change, are not frozen: a frozen dataclass's __init__ sets
# each field through object.__setattr__, and building the changes then took 0.55-0.59 s of
# make_plan instead of 0.27-0.35 s at 100,000 users (benchmarks/README.md). Nothing assigns
# to them; unsafe_hash keeps them hashable as frozen values are (apply counts changes).
@dataclass(slots=True, unsafe_hash=True)
class Access:
    """A user's access as the plan shows it (``before`` / ``after``)."""

    role: str | None
    products: tuple[str, ...] | None  # sorted on product roles, None otherwise
    active: bool

    def to_json(self) -> dict[str, Any]:
        products = list(self.products) if self.products is not None else None
        return {"role": self.role, "products": products, "active": self.active}

    def canonical(self) -> str:
        """``canonical_text(self.to_json())``, written by template (see ``Change.canonical``)."""
        return _access_text(self.role, self.products, self.active)

    @classmethod
    def from_json(cls, data: dict[str, Any], key: str = "access") -> Access:
        """Read from a file: the three keys ``to_json`` writes, each value of the type its
        field holds, else ``ShapeError``."""
        data = obj(data, key)
        missing = next((k for k in ("role", "products", "active") if k not in data), None)
        if missing is not None:
            raise ShapeError(f"{key} has no {missing}")
        products = data.get("products")
        return cls(
            role=text_or_null(data.get("role"), f"{key}.role"),
            products=None if products is None else texts(products, f"{key}.products"),
            active=flag(data["active"], f"{key}.active"),
        )


# A plan's accesses and group lists repeat (14,789 distinct (access, groups, reason) among
# 85,262 changes at 100,000 users): their text is written once each. The digest and the plan
# file, each made on its own by benchmarks/core_cpu.py, took 0.50 s + 0.46 s of core CPU
# without it, 0.44 s + 0.38 s with.
@lru_cache(maxsize=4096)
def _access_text(role: str | None, products: tuple[str, ...] | None, active: bool) -> str:
    listed = "null" if products is None else canonical_str_array(products)
    state = "true" if active else "false"
    return f'{{"active":{state},"products":{listed},"role":{canonical_str_or_null(role)}}}'


_groups_text = lru_cache(maxsize=4096)(canonical_str_array)


@dataclass(slots=True, unsafe_hash=True)
class Change:
    action: Action
    user: str  # the match key, lower-cased
    entra_id: str | None
    display_name: str | None
    email: str | None
    before: Access | None  # None on create
    after: Access
    groups: tuple[str, ...]
    decided_by: str | None
    reason: str
    target_id: str | None = None  # the SCIM resource id (None on create)
    user_name: str | None = None  # SCIM userName to create with (the UPN as in Entra)
    given_name: str | None = None
    family_name: str | None = None
    # Sets externalId on a NeuralTrust user found by match_on, which was not yet managed. In the
    # plan file only when true ("adopts": true), so files without adoptions read as before.
    adopts: bool = False

    @property
    def sort_key(self) -> tuple[int, str, str, str]:
        return (self.action.order, self.user, self.target_id or "", self.entra_id or "")

    @property
    def writes_role(self) -> bool:
        """Carrying it out writes the role: a create, or a role the plan changes (a role the
        plan shows unchanged is left as it is, with what entrasync does not read beside it)."""
        after, before = self.after, self.before
        return after.role is not None and (before is None or before.role != after.role)

    def to_json(self) -> dict[str, Any]:
        adopts: dict[str, Any] = {"adopts": True} if self.adopts else {}
        return {
            "action": self.action.value,
            **adopts,
            "user": self.user,
            "entra_id": self.entra_id,
            "display_name": self.display_name,
            "email": self.email,
            "before": self.before.to_json() if self.before is not None else None,
            "after": self.after.to_json(),
            "groups": list(self.groups),
            "decided_by": self.decided_by,
            "reason": self.reason,
            "target_id": self.target_id,
            "user_name": self.user_name,
            "given_name": self.given_name,
            "family_name": self.family_name,
        }

    def canonical(self) -> str:
        """``canonical_text(self.to_json())`` (RFC 8785), written by an f-string template.

        ``to_json`` stays the definition; this is the change's plan-file line and digest part,
        with the keys in sorted order and each string escaped by the encoder's own C function:
        no dict, list and encoder pass per change, and no call per optional field. It holds
        core CPU under its 3 s target: at 85,262 changes the plan digest step takes 0.39-0.40 s
        this way (0.51 s with a call per optional field), 0.93 s through to_json and the encoder
        (benchmarks/core_cpu.py --size full).
        Every field holds the type its annotation says: a plan file's values are checked as
        it is read (``from_json``). tests/unit/test_plan_lines.py holds the two equal.
        """
        s = canonical_str
        before = "null" if self.before is None else self.before.canonical()
        decided_by, display_name, email = self.decided_by, self.display_name, self.email
        entra_id, family_name, given_name = self.entra_id, self.family_name, self.given_name
        target_id, user_name = self.target_id, self.user_name
        adopts = '"adopts":true,' if self.adopts else ""
        return (
            f'{{"action":{s(self.action)},{adopts}"after":{self.after.canonical()},'
            f'"before":{before},'
            f'"decided_by":{"null" if decided_by is None else s(decided_by)},'
            f'"display_name":{"null" if display_name is None else s(display_name)},'
            f'"email":{"null" if email is None else s(email)},'
            f'"entra_id":{"null" if entra_id is None else s(entra_id)},'
            f'"family_name":{"null" if family_name is None else s(family_name)},'
            f'"given_name":{"null" if given_name is None else s(given_name)},'
            f'"groups":{_groups_text(self.groups)},"reason":{s(self.reason)},'
            f'"target_id":{"null" if target_id is None else s(target_id)},'
            f'"user":{s(self.user)},"user_name":{"null" if user_name is None else s(user_name)}}}'
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Change:
        """Read from a file: each value of the type its field holds, else ``ShapeError``."""
        get = data.get
        before = get("before")
        return cls(
            action=Action(text(data["action"], "action")),
            user=text(data["user"], "user"),
            entra_id=text_or_null(get("entra_id"), "entra_id"),
            display_name=text_or_null(get("display_name"), "display_name"),
            email=text_or_null(get("email"), "email"),
            before=Access.from_json(before, "before") if before is not None else None,
            after=Access.from_json(data["after"], "after"),
            groups=texts(get("groups", []), "groups"),
            decided_by=text_or_null(get("decided_by"), "decided_by"),
            reason=text(get("reason", ""), "reason"),
            target_id=text_or_null(get("target_id"), "target_id"),
            user_name=text_or_null(get("user_name"), "user_name"),
            given_name=text_or_null(get("given_name"), "given_name"),
            family_name=text_or_null(get("family_name"), "family_name"),
            adopts=flag(get("adopts", False), "adopts"),
        )


@dataclass(frozen=True, slots=True)
class Orphan:
    """An active managed user no synced mapping wants any more."""

    user: str
    role: str | None
    reason: str
    entra_id: str | None = None
    target_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "role": self.role,
            "reason": self.reason,
            "entra_id": self.entra_id,
            "target_id": self.target_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Orphan:
        return cls(
            user=text(data["user"], "user"),
            role=text_or_null(data.get("role"), "role"),
            reason=text(data.get("reason", ""), "reason"),
            entra_id=text_or_null(data.get("entra_id"), "entra_id"),
            target_id=text_or_null(data.get("target_id"), "target_id"),
        )


# The safety rules (docs/safety.md), as a violation names them.
RULES = ("max_deactivations", "max_deactivation_percent", "min_owners", "source_health")


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str  # one of RULES
    message: str
    override: str = FORCE_UNSAFE

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "message": self.message, "override": self.override}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Violation:
        rule = text(data["rule"], "rule")
        if rule not in RULES:  # a name apply would show, so never one it does not know
            raise ShapeError(f"rule {rule[:40]!r} is no safety rule")
        return cls(
            rule=rule,
            message=text(data["message"], "message"),
            override=text(data.get("override", ""), "override"),
        )


def change_lines(changes: Iterable[Change]) -> Iterator[str]:
    """Each change's canonical line, one at a time: the plan's digest and its file are made of
    them, each as it goes. Held for both, they took `plan`'s peak RSS at 1,000,000 users from
    2,016 MB to 2,236 MB (over its 2 GB target). ``planfile.write_once`` makes them once for
    both; a FIFO or device gets them twice (benchmarks/README.md)."""
    return (change.canonical() for change in changes)
