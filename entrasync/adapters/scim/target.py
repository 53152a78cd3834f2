"""Read the NeuralTrust side: every SCIM user reduced to a :class:`TargetUser`, fingerprinted."""

from __future__ import annotations

from typing import Any

from entrasync.adapters.scim.attributes import (
    USER_SPELLING,
    VALUE_SPELLING,
    Layout,
    SpeltTwice,
    as_spelt,
    get_ci,
    is_true,
)
from entrasync.adapters.scim.client import ScimClient
from entrasync.adapters.scim.paging import IncompleteListingError
from entrasync.config.models import Config
from entrasync.core import sanitize
from entrasync.core.model import Target, TargetUser


def layout_of(config: Config) -> Layout:
    neuraltrust = config.neuraltrust
    return Layout.of(neuraltrust.role_attribute, neuraltrust.products_attribute, config.roles)


ODD_USER_HINT = (
    "nothing was changed in NeuralTrust. Its SCIM server answered a user in a shape RFC 7643 "
    "does not allow; report this message to NeuralTrust support"
)


def _odd(resource: dict[str, Any], attribute: str, expected: str) -> IncompleteListingError:
    value = resource.get(attribute)
    return IncompleteListingError(
        f"NeuralTrust listed user {sanitize.text(str(resource['id']))} with {attribute} "
        f"{sanitize.text(repr(value)[:80])}, which is not {expected}: entrasync plans nothing "
        "on a user it cannot read",
        ODD_USER_HINT,
    )


def _spelt_twice(user: object, twice: SpeltTwice) -> IncompleteListingError:
    return IncompleteListingError(
        f"NeuralTrust listed user {sanitize.text(str(user))} with the attribute "
        f"{sanitize.text(twice.name)} twice, as {sanitize.text(twice.first)!r} and "
        f"{sanitize.text(twice.second)!r}: attribute names are case-insensitive (RFC 7643 §2.1), "
        "so entrasync cannot tell which holds the value, and plans nothing on a user it cannot "
        "read",
        ODD_USER_HINT,
    )


def primary_email(resource: dict[str, Any]) -> str | None:
    """The primary email (RFC 7643 §4.1.2), else a work one, else any; of several, the first
    in text order: a multi-valued attribute has no order (§2.4), and the server's own would
    change the user's match key, and its state, from one read to the next."""
    primary: list[str] = []
    work: list[str] = []
    other: list[str] = []
    emails = resource.get("emails")
    if emails is None:
        emails = ()
    if not isinstance(emails, list | tuple):
        raise _odd(resource, "emails", "a list")
    for email in emails:  # one pass: this runs for every user read
        if not isinstance(email, dict):  # an address given as text, read as none, matched no one
            raise _odd(resource, "emails", "a list of objects")
        email = as_spelt(email, VALUE_SPELLING)
        value = email.get("value")
        if value is not None and not isinstance(value, str):
            raise _odd(resource, "emails", "a list of objects whose value is a string")
        if value:
            kind = email.get("type")
            is_work = isinstance(kind, str) and kind.lower() == "work"
            shelf = primary if is_true(email.get("primary")) else work if is_work else other
            shelf.append(value)
    chosen = primary or work or other
    return min(chosen) if chosen else None


def to_target_user(resource: dict[str, Any], layout: Layout, etags: bool = False) -> TargetUser:
    """``etags``: the server announced ETags, so ``meta.version`` is the user's entity tag (for
    the If-Match of a write); otherwise it is not read."""
    try:
        return _read(as_spelt(resource, USER_SPELLING), layout, etags)
    except SpeltTwice as twice:
        raise _spelt_twice(resource.get("id"), twice) from None


def _read(resource: dict[str, Any], layout: Layout, etags: bool) -> TargetUser:
    get = resource.get
    external_id, user_name, active = get("externalId"), get("userName"), get("active")
    display_name = get("displayName")
    for name, value in (
        ("userName", user_name),
        ("externalId", external_id),
        ("displayName", display_name),
    ):
        if value is not None and not isinstance(value, str):  # read as text, a list matched none
            raise _odd(resource, name, "a string")
    said = active is not None
    if active is not True and active is not False:
        active = _active(resource, active)
    role, role_alone = layout.read_role(resource)
    meta = get("meta") if etags else None
    version = get_ci(meta, "version") if isinstance(meta, dict) else None
    # Positional, in TargetUser's field order: this runs for every user read.
    return TargetUser(
        str(resource["id"]),
        "" if user_name is None else user_name,
        external_id or None,
        display_name,
        primary_email(resource),
        active,
        role,
        layout.read_products(resource),
        version if isinstance(version, str) and version else None,
        said,
        role_alone,
    )


def _active(resource: dict[str, Any], active: object) -> bool:
    """``active`` other than a JSON boolean: absent or null is unspecified (RFC 7643 §4.1.1),
    and NeuralTrust users are active by default; the text "true" or "false" says what it says.
    Anything else stops the read: read as active, an inactive owner counted for min_owners."""
    if active is None:
        return True
    if isinstance(active, str) and active.lower() in ("true", "false"):
        return active.lower() == "true"
    raise _odd(resource, "active", "true or false")


def read_target(config: Config, client: ScimClient, parallelism: int | None = None) -> Target:
    """Every NeuralTrust user, with only the attributes entrasync reads.

    Pages after the first are read ``parallelism`` at a time (default: the client's
    ``max_connections``), in startIndex order, so the users and the state fingerprint are
    those of a page-by-page read.
    """
    layout = layout_of(config)
    users = [
        _named(to_target_user(resource, layout, client.etags), resource)
        for resource in client.list_users(layout.read_attributes, parallelism=parallelism)
    ]
    return Target.of(client.url, users)


def _named(user: TargetUser, resource: dict[str, Any]) -> TargetUser:
    """A listed user, with the userName RFC 7643 §4.1.1 requires: planned on without one, it
    was a change to a user no reviewer could tell ("- deactivate  (Frank Miller)"). (A write's
    answer about a known user may leave it out: apply reads those.)"""
    if not user.user_name.strip():
        raise _odd(resource, "userName", "a user's name")
    return user
