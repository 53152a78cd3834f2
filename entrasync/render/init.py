"""``entrasync init``: the mappings file it proposes, and the report of what it proposed.

The file is YAML written by hand rather than dumped, so it reads like the shipped example
(comments, flow lists, the schema line first). Strings that YAML would read as anything else
(``yes``, ``1.0``, ``a: b``) are written as JSON strings, which YAML reads the same way; names
from Entra go through :func:`entrasync.core.sanitize.json_text` and ``sanitize.text`` so no
raw control or bidi character reaches the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import chain

import yaml

from entrasync.config.models import (
    Config,
)
from entrasync.config.source import parse
from entrasync.core import sanitize
from entrasync.core.bootstrap import Proposal, Proposed, Residue
from entrasync.core.plan import Plan
from entrasync.core.wording import plural
from entrasync.render.common import access_brief, columns, role_text, setting_text

_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9 _.@/()&+#-]*")


def scalar(value: str) -> str:
    """``value`` as a YAML scalar: plain when both YAML 1.1 (PyYAML, older tools: ``yes``) and
    the loader of mappings files (YAML 1.2: ``365E5`` is a number) read it back as this very
    string."""
    plain = (
        _PLAIN.fullmatch(value) is not None
        and not value.endswith(" ")
        and " #" not in value
        and _safe_load(value) == value
        and _reads_back(value, value)
    )
    return value if plain else sanitize.yaml_quoted(value)


def _safe_load(text: str) -> object:
    """What PyYAML (YAML 1.1) reads ``text`` as; None where its constructor fails on it
    (``0x_`` is an int to its resolver and no number to ``int()``): then written quoted."""
    try:
        return yaml.safe_load(text)
    except (yaml.YAMLError, ValueError):
        return None


def _reads_back(written: str, value: str) -> bool:
    """Whether the loader of mappings files reads the scalar ``written`` as ``value``."""
    doc, problems = parse(f"v: {written}\n".encode())
    return not problems and doc is not None and doc.data == {"v": value}


def _flow(values: Sequence[str]) -> str:
    return "[" + ", ".join(scalar(v) for v in values) + "]"


@dataclass(frozen=True)
class Endpoints:
    """The routing values the file records: those the base file already holds (never a secret,
    never the environment's)."""

    tenant_id: str | None = None
    client_id: str | None = None
    graph_url: str | None = None
    authority_host: str | None = None
    scim_url: str | None = None

    @classmethod
    def of(cls, base: Config) -> Endpoints:
        """The base file's own values, exactly as it holds them. Those the reads took from
        the environment stay there: a draft that wrote them, or dropped or respelt the base
        file's, would change where credentials go, and plan.yml plans such a pull request only
        once it is merged (docs/github-setup.md)."""
        entra = base.entra
        return cls(
            entra.tenant_id,
            entra.client_id,
            entra.graph_url,
            entra.authority_host,
            base.neuraltrust.scim_url,
        )


def mappings_yaml(
    base: Config,
    proposal: Proposal,
    endpoints: Endpoints,
    *,
    schema_ref: str,
    search: str | None,
    min_agreement: float,
) -> str:
    """The whole mappings file: ``base``'s settings, the proposal's mappings and protected."""
    command = "entrasync init" + (f" {search}" if search else "")
    lines = chain(
        (
            f"# yaml-language-server: $schema={schema_ref}",
            "#",
            f"# Drafted by `{sanitize.text(command)}` from the Entra groups and NeuralTrust users",
            "# as they were: one mapping per group whose members agreed on a role (at least",
            f"# {min_agreement:g}%). Review it, then run `entrasync plan`. Secrets never go here;",
            "# the tenant, the app and the endpoints not set below come from the environment",
            "# (AZURE_TENANT_ID, AZURE_CLIENT_ID, NEURALTRUST_SCIM_URL...; repository variables",
            "# in CI).",
        ),
        _settings(base, endpoints),
        _people(base, proposal),
    )
    return "".join(f"{line}\n" for line in lines)


def _settings(base: Config, endpoints: Endpoints) -> Iterator[str]:
    entra, nt = base.entra, base.neuraltrust
    yield "version: 1"
    yield ""
    yield "entra:"
    for key in ("tenant_id", "client_id", "graph_url", "authority_host"):
        value = getattr(endpoints, key)
        if value:
            yield f"  {key}: {scalar(value)}"
    yield f"  nested_groups: {setting_text(entra.nested_groups)}"
    yield f"  include_guests: {setting_text(entra.include_guests)}"
    yield f"  include_disabled: {setting_text(entra.include_disabled)}"
    yield ""
    yield "neuraltrust:"
    if endpoints.scim_url:
        yield f"  scim_url: {scalar(endpoints.scim_url)}   # token only from NEURALTRUST_SCIM_TOKEN"
    yield f"  match_on: {nt.match_on}"
    yield f"  role_attribute: {scalar(nt.role_attribute)}"
    yield f"  products_attribute: {scalar(nt.products_attribute)}"
    yield ""
    yield f"roles: {_flow(base.roles)}   # highest privilege first"
    yield f"products: {_flow(base.products)}"
    yield f"product_roles: {_flow(base.effective_product_roles)}"
    yield f"precedence: {base.precedence}"
    yield "on_removed: keep           # report users no mapping wants; change nothing"
    yield ""


def _people(base: Config, proposal: Proposal) -> Iterator[str]:
    limits = base.limits
    if proposal.protected:
        yield "protected:"
        for entry in proposal.protected:
            why = (
                "   # an active owner no owner mapping covers"
                if (entry in proposal.new_protected)
                else ""
            )
            yield f"  - {scalar(entry)}{why}"
    else:
        yield "protected: []"
    yield ""
    yield "limits:"
    yield f"  max_deactivations: {limits.max_deactivations}"
    yield f"  max_deactivation_percent: {limits.max_deactivation_percent}"
    yield f"  min_owners: {limits.min_owners}"
    yield ""
    if not proposal.mappings:
        yield "mappings: []   # no group could be mapped" + (
            " (why below)" if proposal.skipped else ""
        )
    else:
        yield "mappings:                  # highest role first, so first-match keeps the highest"
        for p in proposal.mappings:
            yield from _mapping_lines(base, p)
    if proposal.skipped:
        yield ""
        yield "# Not mapped, and why:"
        for s in proposal.skipped[:MAX_SKIPPED_LISTED]:
            name = sanitize.text(s.group.display_name)
            yield f"#   {name} ({s.group.id}): {sanitize.text(s.reason)}"
        if len(proposal.skipped) > MAX_SKIPPED_LISTED:
            more = len(proposal.skipped) - MAX_SKIPPED_LISTED
            yield f"#   and {more:,} more, each named in init's output"


# The file names this many of the groups not mapped (init's output names them all): a line
# each for a tenant's tens of thousands of groups passed the mappings file's size limit.
MAX_SKIPPED_LISTED = 100


def _writable(name: str) -> bool:
    """Whether a mappings file can hold ``name``: the loader of mappings files reads its scalar
    back as this very string (a lone surrogate, which libyaml refuses, cannot be written)."""
    return _reads_back(scalar(name), name)


def _mapping_lines(base: Config, p: Proposed) -> Iterator[str]:
    agreement = f"# {p.agreeing} of {p.counted} NeuralTrust users agree ({p.percent}%){_above(p)}"
    shown = sanitize.text(p.group.display_name)
    yield f"  - id: {p.group.id}"
    if not p.named:
        yield f"    # {shown}: another group has this name, so by id"
    elif not _writable(p.group.display_name):
        yield f"    # {shown}: a name a mappings file cannot hold, so by id"
    else:
        yield f"    name: {scalar(p.group.display_name)}"
    yield f"    role: {scalar(p.role)}   {agreement}"
    if p.products is not None:
        # Not held to the agreement: the plan sets it for every member, so say how many have it.
        held = f"# {p.holding} of those {p.agreeing} hold exactly these"
        yield f"    products: {_flow(p.products)}   {held}"


def _above(p: Proposed) -> str:
    """The members left out of the agreement because a mapping above decides them."""
    return f"; {p.above} more decided by mappings above" if p.above else ""


# --- the report -------------------------------------------------------------------------------


def proposal_lines(proposal: Proposal, min_agreement: float) -> Iterator[str]:
    """What init proposed: the mappings with their agreement, the groups left out and why."""
    count = len(proposal.mappings) + len(proposal.skipped)
    yield (
        f"Proposed {plural(len(proposal.mappings), 'mapping')} from {plural(count, 'group')} "
        f"(members agreeing on a role: at least {min_agreement:g}%)."
    )
    if proposal.mappings:
        # HOLDING: of the members agreeing on the role, those with exactly these products.
        header = ("GROUP", "ID", "ROLE", "PRODUCTS", "HOLDING", "AGREEMENT")
        rows: list[tuple[str, ...]] = [header]
        for p in proposal.mappings:
            products = "-" if p.products is None else (", ".join(p.products) or "(none)")
            holding = "-" if p.products is None else f"{p.holding} of {p.agreeing}"
            agreement = f"{p.percent}% ({p.agreeing} of {p.counted}){_above(p)}"
            rows.append((p.group.display_name, p.group.id, p.role, products, holding, agreement))
        yield from (f"  {line}" for line in columns(rows))
    if proposal.skipped:
        yield ""
        yield f"Not mapped ({plural(len(proposal.skipped), 'group')}):"
        rows = [("GROUP", "ID", "WHY")]
        rows += [(s.group.display_name, s.group.id, s.reason) for s in proposal.skipped]
        yield from (f"  {line}" for line in columns(rows))
    if proposal.new_protected:
        yield ""
        yield "Protected (active owners no proposed owner mapping covers; plans never change them):"
        yield from (f"  {sanitize.text(entry)}" for entry in proposal.new_protected)


def residue_lines(plan: Plan) -> Iterator[str]:
    """What a plan of the new file changes besides adoptions, each with why; then the rest."""
    residue = Residue.of(plan)
    yield ""
    if residue.changes:
        yield (
            f"Residue: `entrasync plan` of this file would also make "
            f"{plural(len(residue.changes), 'change')}:"
        )
        # The access each change gives, not only why: a create gets the group's whole role.
        rows: list[tuple[str, ...]] = [("USER", "ACTION", "ACCESS", "WHY", "DECIDED BY")]
        for c in residue.changes:
            access = f"{access_brief(c.before)} -> {access_brief(c.after)}"
            rows.append(
                (sanitize.name_text(c.user), c.action.value, access, c.reason, c.decided_by or "-")
            )
        yield from (f"  {line}" for line in columns(rows))
    else:
        but = " but adoptions" if residue.adoptions else ""
        yield f"Residue: none. `entrasync plan` of this file changes nothing{but}."
    if residue.adoptions:
        yield (
            f"  {plural(residue.adoptions, 'user')} made by hand in NeuralTrust "
            f"{'is' if residue.adoptions == 1 else 'are'} adopted "
            "(externalId set, access unchanged)."
        )
    if plan.orphans:
        yield (
            f"  {plural(len(plan.orphans), 'managed user')} no mapping wants "
            "(kept: on_removed is keep; `plan` lists them as orphans):"
        )
        orphans = [
            (sanitize.name_text(o.user), role_text(o.role) if o.role else "-", o.reason)
            for o in plan.orphans
        ]
        yield from (f"    {line}" for line in columns(orphans))
