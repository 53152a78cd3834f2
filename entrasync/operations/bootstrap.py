"""``entrasync init``: read what exists once, propose mappings, and plan them on the same reads.

Reads: the groups by display-name prefix (as ``entrasync groups`` lists them), then, through
:func:`entrasync.operations.planning.read_sources` on a config mapping each of them, their
user members and every NeuralTrust user, as ``plan`` reads them. Nothing is read twice: the
residue is the plan of the proposed file made on those reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from entrasync.adapters.clock import utc_now
from entrasync.adapters.graph.client import GraphClient
from entrasync.adapters.graph.directory import find_groups
from entrasync.adapters.http import DEFAULT_PARALLELISM
from entrasync.config.models import Config, LoadedConfig
from entrasync.console import Console
from entrasync.core.bootstrap import Proposal, propose, proposed_directory, survey_config
from entrasync.core.plan import Plan
from entrasync.core.wording import plural
from entrasync.errors import EntrasyncError
from entrasync.operations.planning import Sources, read_sources


def read_survey(
    base: Config,
    search: str | None,
    environ: Mapping[str, str],
    console: Console,
    *,
    parallelism: int = DEFAULT_PARALLELISM,
) -> tuple[Config, Sources]:
    """The groups starting with ``search`` as a survey config, and both sides read for it."""

    console.progress("reading groups from Microsoft Graph...")
    with GraphClient.connect(base, environ) as graph:
        groups = find_groups(graph, search)
    console.progress_done()
    if not groups:
        raise EntrasyncError(
            f"no Entra group's display name starts with {search!r}"
            if search
            else "Entra has no groups",
            "`entrasync groups` lists the groups and their names; pass a prefix they share",
        )
    console.detail(f"found {plural(len(groups), 'group')}; reading their members and NeuralTrust")
    survey = survey_config(base, groups)
    return survey, read_sources(survey, environ, console, parallelism=parallelism)


@dataclass(frozen=True)
class Bootstrap:
    survey: Config
    sources: Sources
    proposal: Proposal

    def plan(self, loaded: LoadedConfig) -> Plan:
        """What `plan` of the proposed file shows, made on the reads already done."""
        directory = proposed_directory(self.sources.directory, loaded.config)
        return Sources(directory, self.sources.target, created_at=utc_now()).plan(loaded)


def bootstrap(
    base: Config,
    search: str | None,
    min_agreement: float,
    environ: Mapping[str, str],
    console: Console,
    *,
    parallelism: int = DEFAULT_PARALLELISM,
) -> Bootstrap:
    survey, sources = read_survey(base, search, environ, console, parallelism=parallelism)
    proposal = propose(survey, sources.directory, sources.target, min_agreement)
    return Bootstrap(survey, sources, proposal)
