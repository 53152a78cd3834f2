"""The config keys that decide where credentials are sent, and ``--trusted-config``.

Five keys route credentials: the tenant and client ids (whose secret or federated assertion
is exchanged), the authority host (receives it), the Graph URL (receives the Graph token, and
names its scope) and the SCIM URL (receives the SCIM token, which can write). Each comes from
its environment variable when set, else from the config.

On a pull request the config is under review, so it must not choose those: with
``--trusted-config FILE`` (the base branch's config) a config whose value for any of the five
differs from FILE's, in either direction (added, changed or removed), is refused before any
connection is opened. Even when the environment variable is set and would win anyway: the
change is refused rather than silently ignored, so the plan never runs on a config that
reviewers might think takes effect. It takes effect once merged, when it is the base.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from entrasync.config.loading import load_config, read_bytes
from entrasync.config.models import Config, LoadedConfig
from entrasync.config.source import parse
from entrasync.core import sanitize
from entrasync.core.wording import plural
from entrasync.errors import ConfigError


@dataclass(frozen=True)
class RoutingKey:
    section: str  # "entra" or "neuraltrust"
    name: str
    env: str  # the environment variable that wins over the config

    @property
    def key(self) -> str:
        return f"{self.section}.{self.name}"

    def in_config(self, config: Config) -> str | None:
        value: str | None = getattr(getattr(config, self.section), self.name)
        return value

    def resolve(self, config: Config, environ: Mapping[str, str], default: str) -> Source:
        """The value in use and where it came from: the environment, the config, or default."""
        from_env = environ.get(self.env, "")
        if from_env:
            return Source(from_env, self.env)
        from_config = self.in_config(config)
        if from_config:
            return Source(from_config, f"{self.key} in the mappings file")
        return Source(default, f"the default {self.key}")


@dataclass(frozen=True)
class Source:
    value: str
    origin: str  # how messages name it: "NEURALTRUST_SCIM_URL", "neuraltrust.scim_url in ..."


TENANT_ID = RoutingKey("entra", "tenant_id", "AZURE_TENANT_ID")
CLIENT_ID = RoutingKey("entra", "client_id", "AZURE_CLIENT_ID")
AUTHORITY_HOST = RoutingKey("entra", "authority_host", "AZURE_AUTHORITY_HOST")
GRAPH_URL = RoutingKey("entra", "graph_url", "ENTRASYNC_GRAPH_URL")
SCIM_URL = RoutingKey("neuraltrust", "scim_url", "NEURALTRUST_SCIM_URL")
ROUTING_KEYS = (TENANT_ID, CLIENT_ID, AUTHORITY_HOST, GRAPH_URL, SCIM_URL)


class RoutingChangeError(ConfigError):
    """The config under review changes where credentials are sent."""


Routing = tuple[object, ...]  # each of ROUTING_KEYS' values, in order; None when absent


def routing_of(config: Config) -> Routing:
    return tuple(k.in_config(config) for k in ROUTING_KEYS)


def routing_changes(config: Config, trusted: Config | Routing) -> list[str]:
    """The routing keys whose value differs between the two configs (absent counts)."""
    before = routing_of(trusted) if isinstance(trusted, Config) else trusted
    now = routing_of(config)
    return [k.key for k, new, old in zip(ROUTING_KEYS, now, before, strict=True) if new != old]


@dataclass(frozen=True)
class TrustedRouting:
    """A trusted config this version of entrasync refuses, read for its routing keys alone.

    A check added by an upgrade would otherwise leave every pull request unplannable, the one
    that fixes the base branch's file included. Where the base sends credentials is still
    read from it (as written: a value the checks refuse is compared as it is, so a pull
    request cannot change it either); its other settings are not compared.
    """

    path: str
    routing: Routing
    problems: tuple[str, ...]
    # Its first (highest) role as written, whose grants the "privileged" label watches; None
    # when `roles` holds no text first.
    owner_role: str | None

    @property
    def warning(self) -> str:
        return (
            f"--trusted-config {failing_checks(self.path, self.problems)}: only the keys that "
            "decide where credentials go were compared with it"
        )


def failing_checks(path: str, problems: tuple[str, ...]) -> str:
    """``path`` and its problems, for a warning that it was read in part."""
    return (
        f"{path} does not pass this entrasync's checks ({plural(len(problems), 'problem')}, "
        f"first: {problems[0]})"
    )


def load_trusted(trusted_path: Path) -> LoadedConfig | TrustedRouting:
    """The trusted config; its routing keys alone when it is YAML this version refuses; or a
    ConfigError saying it is the --trusted-config that failed (missing, not YAML)."""
    try:
        return load_config(trusted_path)
    except ConfigError as exc:
        data = _as_written(trusted_path) if exc.problems else None
        if data is None:
            raise ConfigError(
                f"--trusted-config: {exc.message}",
                "--trusted-config names the reviewed mappings file (in CI, the base branch's "
                "copy); fix that file or the path",
                problems=exc.problems,
            ) from None
        return TrustedRouting(
            trusted_path.as_posix(), _routing_as_written(data), exc.problems, _first_role(data)
        )


def _as_written(path: Path) -> dict[str, Any] | None:
    """The YAML mapping ``path`` holds, read without the checks; None when it holds none."""
    doc = parse(read_bytes(path))[0]
    return doc.data if doc is not None and isinstance(doc.data, dict) else None


def _routing_as_written(data: dict[str, Any]) -> Routing:
    sections = {k.section: data.get(k.section) for k in ROUTING_KEYS}
    return tuple(
        section.get(k.name) if isinstance(section := sections[k.section], dict) else None
        for k in ROUTING_KEYS
    )


def settings_as_written(path: Path) -> LoadedConfig | None:
    """``path``'s routing keys and ``entra.nested_groups`` as written, over the defaults, for a
    command that reads nothing else of the file (`groups`) while it fails its checks; None
    when even those make no config."""
    data = _as_written(path)
    if data is None:
        return None
    sections: dict[str, dict[str, Any]] = {}
    for key, value in zip(ROUTING_KEYS, _routing_as_written(data), strict=True):
        if value is not None:
            sections.setdefault(key.section, {})[key.name] = value
    entra = data.get("entra")
    if isinstance(entra, dict) and "nested_groups" in entra:
        sections.setdefault("entra", {})["nested_groups"] = entra["nested_groups"]
    try:
        config = Config.model_validate({"version": 1, **sections})
    except ValidationError:
        return None
    return LoadedConfig(config, sanitize.file_name(path.as_posix()), "", ())


def _first_role(data: dict[str, Any]) -> str | None:
    roles = data.get("roles", Config.model_fields["roles"].default)
    first = roles[0] if isinstance(roles, list | tuple) and roles else None
    return first if isinstance(first, str) and first else None


# --trusted-config's path, or what was read from it
Trusted = Path | LoadedConfig | TrustedRouting | None


def require_trusted_routing(
    loaded: LoadedConfig, trusted: Trusted
) -> LoadedConfig | TrustedRouting | None:
    """Refuse ``loaded`` when it routes credentials other than ``trusted`` does; return what
    was read of the trusted config (None without one).

    Values are compared exactly as written: a changed letter case or trailing slash is a
    change too (the reviewer cannot tell it is harmless without reading it).
    """
    if trusted is None:
        return None
    if isinstance(trusted, Path):
        trusted = load_trusted(trusted)
    before = trusted.config if isinstance(trusted, LoadedConfig) else trusted.routing
    changed = routing_changes(loaded.config, before)
    if not changed:
        return trusted
    keys = ", ".join(changed[:-1]) + (" and " if len(changed) > 1 else "") + changed[-1]
    decides = "decides" if len(changed) == 1 else "decide"
    raise RoutingChangeError(
        f"{loaded.path} changes {keys}, which {decides} where credentials are sent; "
        "the change takes effect once merged",
        f"those keys come from the environment or the trusted config {trusted.path} only, "
        "so nothing was planned or sent; merge the change through review (plans after the "
        "merge use it), or take those keys out of this change to plan the rest",
    )


def load_reviewed_config(
    path: Path, trusted: Trusted, warn: Callable[[str], None] | None = None
) -> LoadedConfig:
    """``load_config`` and, with a trusted config, :func:`require_trusted_routing`; ``warn``
    is told when only the trusted config's routing keys could be read."""
    loaded = load_config(path)
    read = require_trusted_routing(loaded, trusted)
    if isinstance(read, TrustedRouting) and warn is not None:
        warn(read.warning)
    return loaded
