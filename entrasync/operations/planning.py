"""Plan making: the pure core (resolve, diff, safety) first, then the I/O that feeds it.

``make_plan`` is the one code path plan and apply share, so a dry run cannot disagree with
what apply does: an organization dropped peribolos's pull request dry runs as "quite
unreliable" (https://github.com/baloise/open-source/issues/243).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace

from entrasync.adapters import clock
from entrasync.adapters.graph.client import GraphClient
from entrasync.adapters.graph.directory import read_directory
from entrasync.adapters.graph.groups import GroupResolutionError
from entrasync.adapters.http import DEFAULT_PARALLELISM
from entrasync.adapters.scim.client import ScimClient
from entrasync.adapters.scim.target import read_target
from entrasync.config.models import Config, LoadedConfig
from entrasync.console import Console
from entrasync.core.diff import diff
from entrasync.core.expiry import as_of
from entrasync.core.model import Directory, Resolution, Target
from entrasync.core.plan import Plan
from entrasync.core.resolve import empty_groups, resolve
from entrasync.core.safety import check_safety
from entrasync.core.wording import plural
from entrasync.errors import EntrasyncError, SeveralErrors


def make_plan(
    config: Config,
    config_path: str,
    config_sha256: str,
    directory: Directory,
    target: Target,
    created_at: str,
    resolution: Resolution | None = None,
) -> Plan:
    """resolve + diff + check_safety, with the violations attached to the plan.

    ``resolution``: ``resolve(config, directory)``, when the caller has it already."""
    if resolution is None:
        resolution = resolve(config, directory)
    plan = diff(
        config,
        resolution,
        target,
        config_path=config_path,
        config_sha256=config_sha256,
        created_at=created_at,
    )
    violations = check_safety(
        plan, target, config, empty_groups=empty_groups(directory), resolution=resolution
    )
    return plan.with_violations(violations)


# --- the imperative shell: read both sides (the only I/O on the way to a plan) ---------------


@dataclass(frozen=True)
class Sources:
    directory: Directory
    target: Target
    warnings: tuple[str, ...] = ()  # the mappings' expiry, as of the day of the read
    # When the read began, the moment the mappings' expiry was held against: the plan's
    # created_at, so its day is the day the plan grants for.
    created_at: str = ""

    def plan(self, loaded: LoadedConfig, resolution: Resolution | None = None) -> Plan:
        plan = make_plan(
            loaded.config,
            loaded.path,
            loaded.sha256,
            self.directory,
            self.target,
            self.created_at,
            resolution,
        )
        return replace(plan, warnings=self.warnings + plan.warnings) if self.warnings else plan


@contextmanager
def _clients(
    config: Config, environ: Mapping[str, str], parallelism: int
) -> Iterator[tuple[GraphClient, ScimClient]]:
    """Both clients, closed on every path; when neither can be built (their settings are
    read, nothing is sent), both errors at once: a first run with nothing set learns every
    setting it lacks, not one per run."""
    graph: GraphClient | EntrasyncError
    try:
        graph = GraphClient.connect(config, environ)
    except EntrasyncError as exc:
        graph = exc
    try:
        scim = ScimClient.from_env(config, environ, max_connections=parallelism)
    except EntrasyncError as exc:
        if isinstance(graph, EntrasyncError):
            raise SeveralErrors((graph, exc)) from None
        graph.close()
        raise
    if isinstance(graph, EntrasyncError):
        scim.close()
        raise graph
    with graph, scim:
        yield graph, scim


def read_sources(
    config: Config,
    environ: Mapping[str, str],
    console: Console,
    *,
    parallelism: int = DEFAULT_PARALLELISM,
) -> Sources:
    """Read Entra and NeuralTrust at the same time; both clients are closed on every path.

    Both clients are built (and their credentials checked) before either read starts, so a
    missing token fails fast without a half-finished read on the other side.
    """

    with (
        _clients(config, environ, parallelism) as (graph, scim),
        ThreadPoolExecutor(max_workers=2, thread_name_prefix="entrasync-read") as pool,
    ):
        directory_f = pool.submit(
            read_directory, config, graph, progress=console.progress, parallelism=parallelism
        )
        target_f = pool.submit(read_target, config, scim)
        directory = directory_f.result()
        target = target_f.result()
    console.progress_done()
    console.detail(
        f"read {plural(len(directory.groups), 'group')} "
        f"({plural(len(directory.users), 'user')}) from Entra and "
        f"{plural(len(target.users), 'user')} from NeuralTrust"
    )
    return Sources(directory, target)


def plan_from_sources(
    loaded: LoadedConfig,
    environ: Mapping[str, str],
    console: Console,
    *,
    parallelism: int = DEFAULT_PARALLELISM,
) -> Plan:
    """Read both sides and make the plan: what `plan` prints and `apply` without a file runs."""
    return read_located(loaded, environ, console, parallelism=parallelism).plan(loaded)


def read_located(
    loaded: LoadedConfig,
    environ: Mapping[str, str],
    console: Console,
    *,
    parallelism: int = DEFAULT_PARALLELISM,
) -> Sources:
    """:func:`read_sources`, a group Entra cannot resolve named at its file and line.

    An expired mapping is read as ``auto_sync: false`` (not at all): it grants nothing. The
    clock is read once, before the read: the day the mappings are held against and the plan's
    ``created_at`` are one moment's, however long the read takes.
    """

    moment = clock.utc_moment()
    today = as_of(loaded.config, moment.date())
    try:
        sources = read_sources(today.config, environ, console, parallelism=parallelism)
        return replace(sources, warnings=today.warnings, created_at=clock.stamp(moment))
    except GroupResolutionError as exc:
        index = exc.mapping_index
        label = loaded.config.mappings[index].label if index is not None else "?"
        raise exc.located(loaded.where(index), label) from None
