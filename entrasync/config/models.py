"""The mappings file: ``config/mappings.yaml`` format version 1 as frozen models.

The JSON Schema in ``schemas/mappings.schema.json`` is generated from these models
(``python -m entrasync.config.schema``; ``tests/unit/test_schema.py`` keeps them in step), so every
field carries the title and description editors show on hover. Loading (YAML, schema, pydantic
and semantic checks, with file:line:col in every problem) is :func:`load_bytes` below; reading
the file is :mod:`entrasync.config.loading`.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from jsonschema import Draft202012Validator, validators
from jsonschema.protocols import Validator
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.json_schema import (
    GenerateJsonSchema,
    JsonSchemaMode,
    JsonSchemaValue,
    SkipJsonSchema,
)

from entrasync.config.located import Document, Problem, ProblemKind
from entrasync.config.patterns import (
    ATTRIBUTE_PATTERN,
    GUID_PATTERN,
    UPN_PATTERN,
    URL_PATTERN,
)
from entrasync.config.problems import (
    EMPTY_MAPPING_KEYS,
    pydantic_problems,
    schema_problems,
    unique_items,
)
from entrasync.config.semantic import (
    DEFAULT_PRODUCTS_ATTRIBUTE,
    DEFAULT_ROLE_ATTRIBUTE,
    semantic_problems,
)
from entrasync.config.source import parse
from entrasync.core import sanitize
from entrasync.core.wording import plural
from entrasync.errors import ConfigError

if TYPE_CHECKING:
    from pydantic_core import CoreSchema  # pydantic's own dependency, pinned by it

Attribute = Annotated[str, Field(pattern=ATTRIBUTE_PATTERN)]
DEFAULT_SCIM_URL = "https://app.neuraltrust.ai/api/scim/v2"
DEFAULT_GRAPH_URL = "https://graph.microsoft.com"
DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"

T = TypeVar("T", bound=Hashable)


def _unique(items: tuple[T, ...]) -> tuple[T, ...]:
    # The schema says uniqueItems; pydantic has no such constraint on tuples.
    if len(set(items)) != len(items):
        raise ValueError("items must be unique")
    return items


def _whole_number(value: object) -> object:
    # JSON Schema's "integer" takes 1 and 1.0 but never true or "1"; lax pydantic takes all four.
    if type(value) is float and value.is_integer():
        return int(value)
    if type(value) is not int:
        raise ValueError("expected a whole number")
    return value


def _lower(value: str | None) -> str | None:
    # Graph returns object ids in lower case; compare them that way everywhere.
    return value.lower() if value is not None else None


Name = Annotated[str, Field(min_length=1)]
UniqueNames = Annotated[
    tuple[Name, ...], AfterValidator(_unique), Field(json_schema_extra={"uniqueItems": True})
]
Guid = Annotated[str, Field(pattern=GUID_PATTERN)]
Url = Annotated[str, Field(pattern=URL_PATTERN)]
Upn = Annotated[str, Field(pattern=UPN_PATTERN)]
Whole = Annotated[int, BeforeValidator(_whole_number)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EntraConfig(_Frozen):
    """The Entra ID (Microsoft Graph) side: app registration and membership rules."""

    tenant_id: Guid | None = Field(
        default=None,
        title="Tenant ID",
        description="Directory (tenant) ID of the app registration. Env AZURE_TENANT_ID wins.",
    )
    client_id: Guid | None = Field(
        default=None,
        title="Client ID",
        description="Application (client) ID of the app registration. Env AZURE_CLIENT_ID wins.",
    )
    graph_url: Url | None = Field(
        default=None,
        title="Graph URL",
        description="Microsoft Graph root for national clouds (default "
        f"{DEFAULT_GRAPH_URL}). Env ENTRASYNC_GRAPH_URL wins.",
    )
    authority_host: Url | None = Field(
        default=None,
        title="Authority host",
        description="Sign-in authority for national clouds (default "
        f"{DEFAULT_AUTHORITY_HOST}). Env AZURE_AUTHORITY_HOST wins.",
    )
    nested_groups: bool = Field(
        default=True,
        strict=True,
        title="Nested groups",
        description="Count transitive membership (members of nested groups).",
    )
    include_guests: bool = Field(
        default=True,
        strict=True,
        title="Include guests",
        description="Sync users whose userType is Guest.",
    )
    include_disabled: bool = Field(
        default=False,
        strict=True,
        title="Include disabled",
        description="Treat accountEnabled=false users as wanted. Off: they are never created "
        "and become orphans.",
    )


class NeuralTrustConfig(_Frozen):
    """The NeuralTrust side: its SCIM 2.0 endpoint and attribute mapping."""

    scim_url: Url | None = Field(
        default=None,
        title="SCIM URL",
        description=f"SCIM 2.0 base URL (default {DEFAULT_SCIM_URL}). Env NEURALTRUST_SCIM_URL "
        "wins. The token comes only from env NEURALTRUST_SCIM_TOKEN.",
    )
    match_on: Literal["userName", "email", "externalId"] = Field(
        default="userName",
        title="Match on",
        description="How an existing NeuralTrust user is found: userName (the UPN), email or "
        "externalId (the Entra object ID).",
    )
    role_attribute: Attribute = Field(
        default=DEFAULT_ROLE_ATTRIBUTE,
        title="Role attribute",
        description='SCIM attribute carrying the role: core "roles" or an extension path '
        '"urn:...:User:role".',
    )
    products_attribute: Attribute = Field(
        default=DEFAULT_PRODUCTS_ATTRIBUTE,
        title="Products attribute",
        description='SCIM attribute carrying product access: core "entitlements" or an '
        "extension path.",
    )


# A count of users no tenant comes near, and well inside what a plan file holds (2**53 - 1):
# `max_deactivations: 1.0e+300` passed here, and the plan it made could not be read back.
MAX_LIMIT = 1_000_000_000


class Limits(_Frozen):
    """Safety limits checked at plan and at apply; --force-unsafe overrides them."""

    max_deactivations: Whole = Field(
        default=10,
        ge=0,
        le=MAX_LIMIT,
        title="Max deactivations",
        description="Most users one apply may deactivate.",
    )
    max_deactivation_percent: Whole = Field(
        default=20,
        ge=0,
        le=100,
        title="Max deactivation percent",
        description="Most users one apply may deactivate, as a percent of the active users "
        "the tool manages.",
    )
    min_owners: Whole = Field(
        default=1,
        ge=0,
        le=MAX_LIMIT,
        title="Min owners",
        description="Fewest active users the first role (the owner role) must keep.",
    )


def _no_default(schema: dict[str, Any]) -> None:
    """A default the schema's own type refuses (null for a list) is left out of the schema."""
    schema.pop("default", None)


class GroupMapping(_Frozen):
    """One Entra group and the NeuralTrust access its members get. Needs an id or a name."""

    model_config = ConfigDict(
        title="Group mapping",
        # A key present with a null value does not count, as in the pydantic check below.
        json_schema_extra={
            "anyOf": [
                {"required": [key], "properties": {key: {"type": "string"}}}
                for key in ("id", "name")
            ]
        },
    )

    id: Annotated[Guid | None, AfterValidator(_lower)] = Field(
        default=None,
        title="Group ID",
        description="Entra group object ID. With a name too, the name is checked against it.",
    )
    name: Name | None = Field(
        default=None,
        title="Group name",
        description="Entra group display name, resolved to its ID when no id is given.",
    )
    role: Name = Field(title="Role", description="The role members get; one of `roles`.")
    # Omitted is every product; written empty (`products:`, a null) it is refused, not read as
    # omitted: a key left blank for later granted every product.
    products: UniqueNames | SkipJsonSchema[None] = Field(
        default=None,
        title="Products",
        description="Products members get (only on a role in `product_roles`); omitted means "
        "every product, [] none.",
        json_schema_extra=_no_default,
    )
    auto_sync: bool = Field(
        default=True,
        strict=True,
        title="Auto sync",
        description="false keeps the mapping in git but leaves it out of the sync.",
    )
    # Omitted never expires; written empty (`expires:`) it is refused, as `products:` is: a
    # key left blank for later made a time-boxed grant a lasting one.
    expires: date | SkipJsonSchema[None] = Field(
        default=None,
        title="Expires",
        description="Last day (YYYY-MM-DD, UTC) the mapping grants access; from the next day "
        "it grants nothing, as auto_sync: false. plan and validate warn from 14 days before.",
        json_schema_extra=_no_default,
    )

    @field_validator("products", "expires", mode="before")
    @classmethod
    def _written(cls, value: object, info: ValidationInfo) -> object:
        if value is None:
            raise ValueError(EMPTY_MAPPING_KEYS[str(info.field_name)])
        return value

    @model_validator(mode="after")
    def _id_or_name(self) -> GroupMapping:
        if self.id is None and self.name is None:
            raise ValueError("a mapping needs an id or a name")
        return self

    @property
    def label(self) -> str:
        """How messages name this mapping: its display name, else its id."""
        return self.name or self.id or "?"


class Config(_Frozen):
    """entrasync mappings, format version 1: which Entra groups get which NeuralTrust access."""

    model_config = ConfigDict(title="entrasync mappings")

    version: Annotated[Literal[1], BeforeValidator(_whole_number)] = Field(
        title="Format version", description="Format version of this file: 1."
    )
    entra: EntraConfig = Field(
        default=EntraConfig(), title="Entra", description="The Entra ID (Microsoft Graph) side."
    )
    neuraltrust: NeuralTrustConfig = Field(
        default=NeuralTrustConfig(),
        title="NeuralTrust",
        description="The NeuralTrust (SCIM 2.0) side.",
    )
    roles: UniqueNames = Field(
        default=("owner", "admin", "member"),
        min_length=1,
        title="Roles",
        description="The role vocabulary, highest privilege first; the first is the owner role.",
    )
    products: UniqueNames = Field(
        default=("trustgate", "trusttest", "trustlens"),
        title="Products",
        description="The product vocabulary.",
    )
    product_roles: UniqueNames | None = Field(
        default=None,
        title="Product roles",
        description="Roles that take product access (default: the last role).",
    )
    precedence: Literal["first-match", "highest-privilege"] = Field(
        default="first-match",
        title="Precedence",
        description="first-match: the first matching mapping in file order decides. "
        "highest-privilege: the highest role wins, products are the union for that role.",
    )
    on_removed: Literal["keep", "deactivate"] = Field(
        default="keep",
        title="On removed",
        description="What happens to a managed user no mapping wants any more: keep (report "
        "only) or deactivate (SCIM active=false).",
    )
    protected: Annotated[tuple[Upn, ...], AfterValidator(_unique)] = Field(
        default=(),
        json_schema_extra={"uniqueItems": True},
        title="Protected users",
        description="UPNs or emails never created, changed or deactivated by the tool.",
    )
    limits: Limits = Field(
        default=Limits(), title="Safety limits", description="Safety limits per apply."
    )
    mappings: tuple[GroupMapping, ...] = Field(
        default=(),
        title="Mappings",
        description="Group-to-role mappings; order matters with first-match.",
    )

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
    def synced_mappings(self) -> tuple[tuple[int, GroupMapping], ...]:
        """(index, mapping) of every mapping with ``auto_sync`` on, in file order."""
        return tuple((i, m) for i, m in enumerate(self.mappings) if m.auto_sync)


class SchemaGenerator(GenerateJsonSchema):
    """pydantic targets 2020-12 but leaves out ``$schema``; editors and check-jsonschema want it."""

    def generate(self, schema: CoreSchema, mode: JsonSchemaMode = "validation") -> JsonSchemaValue:
        out = super().generate(schema, mode)
        return {"$schema": self.schema_dialect, **out}


@cache
def config_schema() -> dict[str, Any]:
    """The JSON Schema of the mappings file, exactly as committed in schemas/."""
    return Config.model_json_schema(schema_generator=SchemaGenerator)


@cache
def _validator() -> Validator:
    checker: type[Validator] = validators.extend(  # type: ignore[no-untyped-call]
        Draft202012Validator, {"uniqueItems": unique_items}
    )
    return checker(config_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)


@dataclass(frozen=True)
class LoadedConfig:
    """A valid configuration and where it came from (for plan files and audit records)."""

    config: Config
    path: str
    sha256: str
    mapping_lines: tuple[int, ...] = ()  # the line of each `mappings` item, for messages

    def where(self, mapping_index: int | None) -> str:
        """``path:line`` of a mapping (the path alone when its line is unknown)."""
        if mapping_index is None or mapping_index >= len(self.mapping_lines):
            return self.path
        return f"{self.path}:{self.mapping_lines[mapping_index]}"


class ConfigTooLarge(ConfigError):
    """More bytes, or keys and values, than a mappings file may hold (docs/safety.md)."""


def load_bytes(raw: bytes, name: str, *, schema_command: str) -> LoadedConfig:
    """Check a mappings file's bytes, as read from ``name``; raise ConfigError listing every
    problem, its hint naming ``schema_command`` (what writes the schema: the caller knows its
    Python). :func:`entrasync.config.loading.load_config` reads the file and calls this;
    ``init`` checks its draft so before writing it."""
    config, problems, doc = _check(raw)
    if config is None or problems or doc is None:
        shown = sanitize.text(name)  # a line break in a file's name would forge lines of output
        found = sorted(set(problems))
        # Keys and tags are quoted as written, and a quoted key may hold a line break: each
        # problem is made one inert line, so none can forge an `error:` line of its own.
        rendered = tuple(sanitize.text(p.render(shown)) for p in found)
        listed = [p for p in found if p.kind is not ProblemKind.UNLISTED]
        more = "more than " if len(listed) < len(found) else ""
        too_large = any(p.kind is ProblemKind.TOO_LARGE for p in found)
        raise (ConfigTooLarge if too_large else ConfigError)(
            f"{shown} has {more}{plural(len(listed), 'problem')}",
            _hint(shown, {p.kind for p in found}, _foreign(doc), schema_command),
            problems=rendered,
        )
    lines = tuple(doc.line_of(("mappings", i)) for i in range(len(config.mappings)))
    return LoadedConfig(
        config=config, path=name, sha256=hashlib.sha256(raw).hexdigest(), mapping_lines=lines
    )


def _foreign(doc: Document | None) -> bool:
    """A file with no top-level key a mappings file has or nearly has: likely another tool's
    YAML that the pre-commit hook matched by its name (``mappings*.yaml`` in any folder).
    "Nearly" is a typo's distance (``verison`` 0.86, ``rolse`` 0.80), not a Kubernetes
    ``apiVersion``'s (0.71 to ``version``)."""
    data = None if doc is None else doc.data
    if not isinstance(data, dict) or not data:
        return False
    ours = list(Config.model_fields)
    return not any(difflib.get_close_matches(str(k), ours, n=1, cutoff=0.75) for k in data)


def _hint(name: str, kinds: set[ProblemKind], foreign: bool, schema_command: str) -> str:
    """The advice for a file's problems: a secret in the file outranks everything else."""
    if ProblemKind.SECRET in kinds:
        return (
            "secrets come only from the environment (AZURE_CLIENT_SECRET, NEURALTRUST_SCIM_TOKEN"
            ", ...): remove them from the file and rotate them if it was ever committed"
        )
    if foreign:
        return (
            f"{name} has none of a mappings file's keys: if it is another tool's file that the "
            "pre-commit hook matched by its name, give the hook `exclude:` (or `files:`) in "
            ".pre-commit-config.yaml (docs/commands.md#pre-commit-hook)"
        )
    return (
        f"fix {name}; the JSON Schema documents every key (schemas/mappings.schema.json in a "
        f"clone, `{schema_command}` writes it; editors with yaml-language-server check it as you "
        "type) and `entrasync validate` re-checks"
    )


def check(raw: bytes) -> tuple[Config | None, list[Problem]]:
    """All problems of a file's bytes: YAML, then schema, then pydantic, then semantic rules."""
    config, problems, _doc = _check(raw)
    return config, problems


def _check(raw: bytes) -> tuple[Config | None, list[Problem], Document | None]:
    doc, problems = parse(raw)
    if doc is None:
        return None, problems, None
    # A value read two ways is said once, as that: not also as the text a rule refuses there.
    two_ways = {(p.line, p.col) for p in problems if p.kind is ProblemKind.TWO_WAYS}
    problems += [p for p in schema_problems(doc, _validator()) if (p.line, p.col) not in two_ways]
    config = None
    if not problems:
        try:
            config = Config.model_validate(doc.data)
        except ValidationError as exc:
            problems += pydantic_problems(doc, exc)
    defaults = Config.model_fields
    said = semantic_problems(doc, defaults["roles"].default, defaults["products"].default)
    problems += [p for p in said if (p.line, p.col) not in two_ways]
    return config, problems, doc
