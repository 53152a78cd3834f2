"""The sandbox SCIM server's users: NeuralTrust-like seeds, and the schemas it serves.

Two layouts, as NeuralTrust's role attribute is undocumented: RFC 7643 core ``roles`` /
``entitlements``, or an extension schema with ``role`` and ``products`` registered on User.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scim2_models import ResourceType, Schema, ScimProvider
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME
from scim2_server.utils import (
    load_default_resource_types,
    load_default_schemas,
    load_default_service_provider_config,
)

from entrasync.core.model import USER_SCHEMA

EXTENSION_SCHEMA = "urn:ietf:params:scim:schemas:extension:neuraltrust:2.0:User"
EXTENSION_ROLE = f"{EXTENSION_SCHEMA}:role"
EXTENSION_PRODUCTS = f"{EXTENSION_SCHEMA}:products"


@dataclass(frozen=True)
class SeedUser:
    """A NeuralTrust-like user to seed the server with."""

    user_name: str
    display_name: str | None = None
    email: str | None = None
    external_id: str | None = None
    active: bool = True
    role: str | None = None
    products: tuple[str, ...] | None = None
    given_name: str | None = None
    family_name: str | None = None

    def to_scim(self, *, extension: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"schemas": [USER_SCHEMA], "userName": self.user_name}
        body["active"] = self.active
        if self.display_name:
            body["displayName"] = self.display_name
        if self.email:
            body["emails"] = [{"value": self.email, "type": "work", "primary": True}]
        if self.external_id:
            body["externalId"] = self.external_id
        if self.given_name or self.family_name:
            body["name"] = {"givenName": self.given_name, "familyName": self.family_name}
        if extension:
            ext: dict[str, Any] = {}
            if self.role is not None:
                ext["role"] = self.role
            if self.products is not None:
                ext["products"] = list(self.products)
            if ext:
                body["schemas"].append(EXTENSION_SCHEMA)
                body[EXTENSION_SCHEMA] = ext
        else:
            if self.role is not None:
                body["roles"] = [{"value": self.role, "primary": True}]
            if self.products is not None:
                body["entitlements"] = [{"value": p} for p in self.products]
        return body


Seed = SeedUser | Mapping[str, Any] | Any  # Any: an object with SeedUser's field names


def seed_user(seed: Seed) -> SeedUser:
    """A SeedUser from a SeedUser, a dict, or any object with the same attribute names
    (e.g. ``entrasync.sandbox.tenant.SeedScimUser``)."""
    if isinstance(seed, SeedUser):
        return seed
    if isinstance(seed, Mapping):
        return SeedUser(**dict(seed))
    names = SeedUser.__dataclass_fields__
    return SeedUser(**{n: getattr(seed, n) for n in names if hasattr(seed, n)})


def _extension_schema() -> Schema:
    def attribute(name: str, multi: bool) -> dict[str, Any]:
        return {
            "name": name,
            "type": "string",
            "multiValued": multi,
            "required": False,
            "caseExact": False,
            "mutability": "readWrite",
            "returned": "default",
            "uniqueness": "none",
        }

    return Schema.model_validate(
        {
            "id": EXTENSION_SCHEMA,
            "name": "NeuralTrustUser",
            "description": "NeuralTrust role and product access (sandbox layout)",
            "attributes": [attribute("role", False), attribute("products", True)],
        }
    )


def provider(extension: bool, max_results: int | None) -> ScimProvider:
    """The schemas, resource types and configuration the sandbox serves."""
    schemas = list(load_default_schemas().values())
    resource_types = list(load_default_resource_types().values())
    if extension:
        schemas.append(_extension_schema())
        user = next(rt for rt in resource_types if rt.id == "User")
        data = user.model_dump()
        data["schemaExtensions"] = [
            *data.get("schemaExtensions", []),
            {"schema": EXTENSION_SCHEMA, "required": False},
        ]
        resource_types = [
            ResourceType.model_validate(data) if rt.id == "User" else rt for rt in resource_types
        ]
    config = load_default_service_provider_config()
    config.authentication_schemes = [BEARER_TOKEN_SCHEME]
    if max_results is not None and config.filter is not None:
        config.filter.max_results = max_results
    return ScimProvider.from_discovery(schemas, resource_types, config=config)
