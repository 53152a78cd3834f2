"""The configuration contract: ``config/mappings.yaml`` format version 1 as frozen models.

The JSON Schema in ``schemas/mappings.schema.json`` is generated from these models (see
``tests/unit/test_schema.py``); loading (YAML, schema, semantic checks with line numbers)
lives below the models.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

GUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
DEFAULT_SCIM_URL = "https://app.neuraltrust.ai/api/scim/v2"
DEFAULT_GRAPH_URL = "https://graph.microsoft.com"
DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EntraConfig(_Frozen):
    tenant_id: str | None = Field(default=None, pattern=GUID_PATTERN)
    client_id: str | None = Field(default=None, pattern=GUID_PATTERN)
    graph_url: str | None = None
    authority_host: str | None = None
    nested_groups: bool = True
    include_guests: bool = True
    include_disabled: bool = False


class NeuralTrustConfig(_Frozen):
    scim_url: str | None = None
    match_on: Literal["userName", "email", "externalId"] = "userName"
    role_attribute: str = "roles"
    products_attribute: str = "entitlements"


class Limits(_Frozen):
    max_deactivations: int = Field(default=10, ge=0)
    max_deactivation_percent: int = Field(default=20, ge=0, le=100)
    min_owners: int = Field(default=1, ge=0)


class Mapping(_Frozen):
    id: str | None = Field(default=None, pattern=GUID_PATTERN)
    name: str | None = Field(default=None, min_length=1)
    role: str
    products: tuple[str, ...] | None = None
    auto_sync: bool = True

    @property
    def label(self) -> str:
        """How messages name this mapping: its display name, else its id."""
        return self.name or self.id or "?"


class Config(_Frozen):
    version: Literal[1]
    entra: EntraConfig = EntraConfig()
    neuraltrust: NeuralTrustConfig = NeuralTrustConfig()
    roles: tuple[str, ...] = Field(default=("owner", "admin", "member"), min_length=1)
    products: tuple[str, ...] = ("trustgate", "trusttest", "trustlens")
    product_roles: tuple[str, ...] | None = None
    precedence: Literal["first-match", "highest-privilege"] = "first-match"
    on_removed: Literal["keep", "deactivate"] = "keep"
    protected: tuple[str, ...] = ()
    limits: Limits = Limits()
    mappings: tuple[Mapping, ...] = ()

    @property
    def owner_role(self) -> str:
        return self.roles[0]

    @property
    def effective_product_roles(self) -> tuple[str, ...]:
        """``product_roles`` with its default: the last (least privileged) role."""
        return self.product_roles if self.product_roles is not None else (self.roles[-1],)

    @property
    def protected_keys(self) -> frozenset[str]:
        return frozenset(p.lower() for p in self.protected)

    @property
    def synced_mappings(self) -> tuple[tuple[int, Mapping], ...]:
        """(index, mapping) of every mapping with ``auto_sync`` on, in file order."""
        return tuple((i, m) for i, m in enumerate(self.mappings) if m.auto_sync)
