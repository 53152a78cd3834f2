"""Where a NeuralTrust user's role and products live in SCIM: core attributes or an extension.

NeuralTrust documents neither (docs/neuraltrust-scim.md), so
``role_attribute`` / ``products_attribute`` name them:

- RFC 7643 §4.1.2 core ``roles`` / ``entitlements``: multi-valued ``[{"value": ..}]``;
- any other core name (e.g. ``title``): a single string;
- an extension path ``urn:...:User:role`` (RFC 7644 §3.10): the attribute ``role`` inside the
  ``urn:...:User`` object; read as a string or a list, written as a string for the role and a
  list of strings for the products.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from entrasync.core.model import USER_SCHEMA_PREFIX, may_be_role

MULTI_VALUED_CORE = frozenset({"roles", "entitlements", "groups"})
CORE_URN = "urn:ietf:params:scim:schemas:core:"


def names_extension(attributes: str) -> bool:
    """Whether an ``attributes=`` value names an extension schema's attribute (a URN path
    outside the core schemas, RFC 7644 §3.10)."""
    return any(
        name.strip().lower().startswith("urn:") and not name.strip().lower().startswith(CORE_URN)
        for name in attributes.split(",")
    )


@dataclass(frozen=True, slots=True)
class AttributePath:
    """One configured attribute: ``schema`` is the extension URN, or None for a core one."""

    schema: str | None
    name: str

    @classmethod
    def parse(cls, path: str) -> AttributePath:
        path = path.strip()
        if path.lower().startswith(USER_SCHEMA_PREFIX):  # a core attribute by its full name
            return cls(schema=None, name=path[len(USER_SCHEMA_PREFIX) :])
        if path.lower().startswith("urn:") and ":" in path[4:]:
            schema, _, name = path.rpartition(":")
            return cls(schema=schema, name=name)
        return cls(schema=None, name=path)

    @property
    def path(self) -> str:
        """The PATCH ``path`` and the ``attributes=`` name (RFC 7644 §3.4.2.5, §3.5.2)."""
        return f"{self.schema}:{self.name}" if self.schema else self.name

    @property
    def multi_valued_core(self) -> bool:
        return self.schema is None and self.name.lower() in MULTI_VALUED_CORE

    def read(self, resource: dict[str, Any]) -> list[str] | None:
        """The values present on ``resource``, primary first, then in sorted order; None when
        the attribute is absent."""
        # Names and URNs are case-insensitive (RFC 7643 §2.1, §3.3). The user's own names are
        # looked up as named first (its read refused two spellings of one: to_target_user);
        # the extension object's are checked here.
        if self.schema:
            container = _as_named(resource, self.schema)
            raw = get_ci(container, self.name) if isinstance(container, dict) else None
        else:
            raw = _as_named(resource, self.name)
        if raw is None:
            return None
        if isinstance(raw, str):  # the common single-valued case, without the sort below
            return [raw]
        items = raw if isinstance(raw, list) else [raw]
        values: list[tuple[bool, str]] = []
        for item in items:
            if isinstance(item, dict):
                item = as_spelt(item, VALUE_SPELLING)
                if item.get("value") is not None:
                    values.append((not is_true(item.get("primary")), str(item["value"])))
            elif item is not None:
                values.append((True, str(item)))
        if len(values) > 1:
            # Primary first, then by value: a multi-valued attribute has no order (RFC 7643
            # §2.4), and a server may send it in any, which must not change the role read.
            values.sort()
        return [value for _, value in values]

    def wire_value(self, values: Sequence[str], *, single: bool) -> Any:
        """The JSON value to write for ``values`` in this attribute's layout."""
        if self.multi_valued_core:
            if single:
                return [{"value": v, "primary": True} for v in values[:1]]
            return [{"value": v} for v in values]
        if single:
            return values[0] if values else None
        return list(values)

    def put(self, body: dict[str, Any], values: Sequence[str], *, single: bool) -> None:
        """Set this attribute in a create (POST) body, adding the extension schema if needed."""
        value = self.wire_value(values, single=single)
        if self.schema is None:
            body[self.name] = value
            return
        body.setdefault(self.schema, {})[self.name] = value
        schemas = body.setdefault("schemas", [])
        if self.schema not in schemas:
            schemas.append(self.schema)

    def replace_op(self, values: Sequence[str], *, single: bool) -> dict[str, Any]:
        """A PatchOp ``replace`` operation setting this attribute to exactly ``values``."""
        return {"op": "replace", "path": self.path, "value": self.wire_value(values, single=single)}


def get_ci(container: dict[str, Any], name: str) -> Any:
    """``container[name]``, the name in any case: attribute names are case-insensitive
    (RFC 7643 §2.1). Found in two spellings, it raises :class:`SpeltTwice`."""
    lowered = name.lower()
    found = [key for key in container if key.lower() == lowered]
    if len(found) > 1:
        raise SpeltTwice(name, found[0], found[1])
    return container[found[0]] if found else None


def _as_named(container: dict[str, Any], name: str) -> Any:
    """``container[name]``, else the name in another case (:func:`get_ci`)."""
    return container[name] if name in container else get_ci(container, name)


class SpeltTwice(ValueError):
    """One attribute sent twice, in two spellings: either may hold the value."""

    def __init__(self, name: str, first: str, second: str) -> None:
        super().__init__(f"{name} sent as {first!r} and {second!r}")
        self.name, self.first, self.second = name, first, second


# Servers spell attribute names as RFC 7643 §3.1 and §4.1 do, and such an object is read as it
# came; one spelt otherwise is read through these spellings: read by the letter, an
# `ExternalID` made a leaver unmanaged, never deactivated.
Spelling = tuple[frozenset[str], dict[str, str]]


def _spelling(*names: str) -> Spelling:
    return frozenset(names), {name.lower(): name for name in names}


USER_SPELLING = _spelling(
    *("schemas", "id", "externalId", "meta", "userName", "name", "displayName", "nickName"),
    *("profileUrl", "title", "userType", "preferredLanguage", "locale", "timezone", "active"),
    *("password", "emails", "phoneNumbers", "ims", "photos", "addresses", "groups"),
    *("entitlements", "roles", "x509Certificates"),
)
VALUE_SPELLING = _spelling("value", "display", "type", "primary")  # a multi-valued item's
LIST_SPELLING = _spelling(  # a ListResponse's (RFC 7644 §3.4.2)
    "schemas", "totalResults", "Resources", "startIndex", "itemsPerPage"
)


def as_spelt(item: dict[str, Any], spelling: Spelling) -> dict[str, Any]:
    """``item`` with each attribute ``spelling`` names under its spelling, others as they
    came. An attribute sent twice, in two spellings, raises :class:`SpeltTwice`."""
    spelt, by_lower = spelling
    if spelt.issuperset(item):  # the usual case, checked in one step: this runs per user
        return item
    named: dict[str, Any] = {}
    sent: dict[str, str] = {}  # by lower-cased name: the key it came as
    for key, value in item.items():
        lowered = key.lower()
        if lowered in sent:
            raise SpeltTwice(by_lower.get(lowered, key), sent[lowered], key)
        sent[lowered] = key
        named[by_lower.get(lowered, key)] = value
    return named


def is_true(value: object) -> bool:
    """A JSON true, or the text "true" in any case, as some servers send booleans."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


@dataclass(frozen=True, slots=True)
class Layout:
    """The configured role and products attributes together."""

    role: AttributePath
    products: AttributePath
    roles: tuple[str, ...] = ()  # the vocabulary, most privileged first

    @classmethod
    def of(cls, role_attribute: str, products_attribute: str, roles: Sequence[str] = ()) -> Layout:
        parse = AttributePath.parse
        return cls(parse(role_attribute), parse(products_attribute), tuple(roles))

    def read_role(self, resource: dict[str, Any]) -> tuple[str | None, bool]:
        """The role, and whether it came alone. Of several values, the most privileged in the
        vocabulary (a value outside it only when none is in it, primary first), so that no
        value sent alongside hides an owner; but NeuralTrust may go by another of them, so
        ``min_owners`` never counts on it (``TargetUser.role_alone``)."""
        values = self.role.read(resource)
        if not values:
            return None, True
        if len(values) == 1:
            return values[0], True
        alone = len(set(values)) == 1
        if not self.roles:
            return values[0], alone
        return min(values, key=self._rank), alone  # ties: read order (primary, then sorted)

    def _rank(self, value: str) -> tuple[int, bool]:
        """Where ``value`` stands in the vocabulary, in any spelling NeuralTrust may take for a
        role (``Owner`` for ``owner``, :func:`may_be_role`), the exact spelling first."""
        for i, role in enumerate(self.roles):
            if may_be_role(value, role):
                return i, value != role
        return len(self.roles), True

    def read_products(self, resource: dict[str, Any]) -> tuple[str, ...] | None:
        values = self.products.read(resource)
        return tuple(sorted(set(values))) if values is not None else None

    @property
    def read_attributes(self) -> tuple[str, ...]:
        """What `attributes=` asks for: only what entrasync reads (``id`` always comes back).

        With an extension, ``schemas`` too: some servers return an extension's attributes only
        alongside the ``schemas`` that names it.
        """
        base = ("userName", "externalId", "displayName", "emails", "active", "name")
        extension = self.role.schema is not None or self.products.schema is not None
        return (*base, *(("schemas",) if extension else ()), self.role.path, self.products.path)
