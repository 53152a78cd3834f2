"""Read the NeuralTrust side: every SCIM user reduced to a :class:`TargetUser`, fingerprinted."""

from __future__ import annotations

from typing import Any

from entrasync.config import Config
from entrasync.model import Target, TargetUser
from entrasync.scim.attributes import Layout
from entrasync.scim.client import ScimClient


def layout_of(config: Config) -> Layout:
    return Layout.of(config.neuraltrust.role_attribute, config.neuraltrust.products_attribute)


def primary_email(resource: dict[str, Any]) -> str | None:
    """The primary email, else the work one, else the first (RFC 7643 §4.1.2)."""
    emails = [e for e in resource.get("emails") or [] if isinstance(e, dict) and e.get("value")]
    for wanted in (lambda e: e.get("primary") is True, lambda e: e.get("type") == "work"):
        for email in emails:
            if wanted(email):
                return str(email["value"])
    return str(emails[0]["value"]) if emails else None


def to_target_user(resource: dict[str, Any], layout: Layout) -> TargetUser:
    external_id = resource.get("externalId")
    return TargetUser(
        id=str(resource["id"]),
        user_name=str(resource.get("userName", "")),
        external_id=str(external_id) if external_id else None,
        display_name=resource.get("displayName"),
        email=primary_email(resource),
        # RFC 7643 §4.1.1: absent "active" is unspecified; NeuralTrust users are active by default.
        active=resource.get("active") is not False,
        role=layout.read_role(resource),
        products=layout.read_products(resource),
    )


def read_target(config: Config, client: ScimClient, parallelism: int | None = None) -> Target:
    """Every NeuralTrust user, with only the attributes entrasync reads.

    Pages after the first are read ``parallelism`` at a time (default: the client's
    ``max_connections``), in startIndex order, so the users and the state fingerprint are
    those of a page-by-page read.
    """
    layout = layout_of(config)
    listing = client.list_users(layout.read_attributes, parallelism=parallelism)
    users = [to_target_user(r, layout) for r in listing]
    return Target.of(client.url, users)
