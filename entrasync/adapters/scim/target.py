"""Read the NeuralTrust side: every SCIM user reduced to a :class:`TargetUser`, fingerprinted."""

from __future__ import annotations

from typing import Any

from entrasync.adapters.scim.attributes import Layout
from entrasync.adapters.scim.client import ScimClient
from entrasync.config.models import Config
from entrasync.core.model import Target, TargetUser, state_row


def layout_of(config: Config) -> Layout:
    neuraltrust = config.neuraltrust
    return Layout.of(neuraltrust.role_attribute, neuraltrust.products_attribute, config.roles)


def primary_email(resource: dict[str, Any]) -> str | None:
    """The primary email, else the work one, else the first (RFC 7643 §4.1.2)."""
    first: object = None
    work: object = None
    for email in resource.get("emails") or ():  # one pass: this runs for every user read
        if isinstance(email, dict) and (value := email.get("value")):
            if email.get("primary") is True:
                return str(value)
            if work is None and email.get("type") == "work":
                work = value
            if first is None:
                first = value
    chosen = first if work is None else work
    return None if chosen is None else str(chosen)


def to_target_user(resource: dict[str, Any], layout: Layout) -> TargetUser:
    get = resource.get
    external_id = get("externalId")
    # Positional, in TargetUser's field order: this runs for every user read.
    return TargetUser(
        str(resource["id"]),
        str(get("userName", "")),
        str(external_id) if external_id else None,
        get("displayName"),
        primary_email(resource),
        # RFC 7643 §4.1.1: absent "active" is unspecified; NeuralTrust users are active by default.
        get("active") is not False,
        layout.read_role(resource),
        layout.read_products(resource),
    )


def read_target(config: Config, client: ScimClient, parallelism: int | None = None) -> Target:
    """Every NeuralTrust user, with only the attributes entrasync reads.

    Pages after the first are read ``parallelism`` at a time (default: the client's
    ``max_connections``), in startIndex order, so the users and the state fingerprint are
    those of a page-by-page read.
    """
    layout = layout_of(config)
    users: list[TargetUser] = []
    rows: list[tuple[str, str]] = []  # the state fingerprint's, written as pages come in
    for resource in client.list_users(layout.read_attributes, parallelism=parallelism):
        user = to_target_user(resource, layout)
        users.append(user)
        rows.append((user.id, state_row(user)))
    return Target.of(client.url, users, rows)
