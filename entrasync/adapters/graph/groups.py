"""Which Entra group each mapping names: ids 20 to a ``$batch``, names one filter each.

A group given by id is still looked up (the plan shows display names, and a missing group
fails with a clear 404 before any member is read): ``GET /groups/{id}?$select=id,displayName``
inside ``POST /$batch`` (https://learn.microsoft.com/graph/json-batching), each id once. A
group given by name costs one ``displayName eq`` filter, which must match exactly one group.
"""

from __future__ import annotations

import difflib
import json
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

from entrasync.adapters.graph.batch import Get, chunks, get_batch
from entrasync.adapters.graph.client import ODD_ANSWER_HINT, GraphClient, GraphNotFoundError
from entrasync.adapters.graph.odata import odata_string
from entrasync.adapters.pool import run_bounded
from entrasync.adapters.shell import command_line
from entrasync.config.models import GroupMapping
from entrasync.config.patterns import is_guid
from entrasync.core import sanitize
from entrasync.core.model import Group
from entrasync.errors import GraphError

GROUP_SELECT = {"$select": "id,displayName"}


class GroupResolutionError(GraphError):
    """A mapping's group is missing, ambiguous, named differently from its id, or another
    mapping's group too."""

    def __init__(self, kind: str, message: str, hint: str, group: Group | None = None) -> None:
        super().__init__(message, hint)
        self.kind = kind  # "missing" | "ambiguous" | "mismatch" | "duplicate"
        self.group = group  # the group Entra has under the id, on a mismatch
        self.mapping_index: int | None = None  # which mapping, once the reader knows it

    def located(self, where: str, label: str) -> GroupResolutionError:
        """The same error, prefixed with the mapping's place (``file:line: mapping X:``)."""
        located = GroupResolutionError(
            self.kind, f"{where}: mapping {label}: {self.message}", self.hint or "", self.group
        )
        located.mapping_index = self.mapping_index
        return located


Resolved = Group | GroupResolutionError
Key = tuple[str, str]  # ("id", group id) or ("name", display name)
Lookup = Sequence[Get] | str  # one $batch of ids, or one name


def lookups(mappings: Sequence[GroupMapping]) -> list[Lookup]:
    """The requests that resolve ``mappings``: batches of up to 20 ids first, then names."""
    ids: dict[str, str] = {}  # id -> how the first mapping naming it describes it
    for m in mappings:
        if m.id:
            ids.setdefault(m.id, f"group {m.id}" + (f" ({m.name})" if m.name else ""))
    names = dict.fromkeys(m.name or "" for m in mappings if not m.id)
    gets = [Get(f"groups/{i}", GROUP_SELECT, what) for i, what in ids.items()]
    return [*chunks(gets), *names]


def lookup(client: GraphClient) -> Callable[[Lookup], list[tuple[Key, Resolved]]]:
    """Run one lookup (thread-safe): what it found, by key."""

    def run(job: Lookup) -> list[tuple[Key, Resolved]]:
        if isinstance(job, str):
            return [(("name", job), _by_name(client, job))]
        found = get_batch(client, job)
        return [(key_of(get), _by_id(f, get)) for f, get in zip(found, job, strict=True)]

    return run


def key_of(item: GroupMapping | Get) -> Key:
    if isinstance(item, Get):
        return ("id", item.path.rpartition("/")[2])
    return ("id", item.id) if item.id else ("name", item.name or "")


def resolution(mapping: GroupMapping, found: dict[Key, Resolved]) -> Resolved:
    """The mapping's group from what the lookups found, its name checked against its id."""
    return _check_name(mapping, found[key_of(mapping)])


def resolve_groups(
    client: GraphClient, mappings: Sequence[GroupMapping], parallelism: int = 4
) -> list[Resolved]:
    """Each mapping's Entra group, or why it has none, in mapping order.

    The lookups run on at most ``parallelism`` threads. Failures other than a missing,
    ambiguous or misnamed group (permissions, throttling past the retries) raise.
    """
    jobs = lookups(mappings)
    found = dict(pair for part in run_bounded(lookup(client), jobs, parallelism) for pair in part)
    return [resolution(m, found) for m in mappings]


def _by_id(found: dict[str, Any] | GraphNotFoundError, get: Get) -> Resolved:
    if isinstance(found, GraphNotFoundError):
        return GroupResolutionError("missing", found.message, found.hint or "")
    asked = get.path.rpartition("/")[2]
    answered = found.get("id")
    if not isinstance(answered, str) or answered.lower() != asked.lower():
        # Taken as answered, a $batch that mixed up its answers would sync another group.
        raise GraphError(
            f"Microsoft Graph answered the lookup of group {sanitize.text(asked)} with group "
            f"{sanitize.text(repr(answered)[:60])}",
            ODD_ANSWER_HINT,
        )
    return Group(id=answered, display_name=str(found.get("displayName") or asked))


def _check_name(mapping: GroupMapping, resolved: Resolved) -> Resolved:
    # Graph's own `eq` on displayName ignores case; the check does too, to agree with it.
    if isinstance(resolved, GroupResolutionError) or not mapping.name:
        return resolved
    if resolved.display_name.casefold() == mapping.name.casefold():
        return resolved
    if mapping.id is None:
        return GroupResolutionError(
            "mismatch",
            f"Microsoft Graph answered the filter for the group named {mapping.name!r} with "
            f"group {resolved.id}, named {resolved.display_name!r}",
            "nothing was read; run again, and if it repeats, put the intended group's `id` in "
            "the mapping (`entrasync groups` lists ids)",
            resolved,
        )
    entra, given = (unicodedata.normalize("NFKC", n) for n in (resolved.display_name, mapping.name))
    spelt = ""
    if entra == given:  # alike to the eye (`É` as `E` and a combining accent): say how they differ
        spelt = f" (Entra spells it {_spelt(resolved.display_name, mapping.name)})"
    return GroupResolutionError(
        "mismatch",
        f"group {mapping.id} is named {resolved.display_name!r} in Entra, not {mapping.name!r}"
        f"{spelt}",
        "the id decides which group is synced: correct the name in the mappings file "
        "(or remove it), or fix the id",
        resolved,
    )


def _by_name(client: GraphClient, name: str) -> Resolved:
    found = list(
        client.paged(
            "groups",
            {"$filter": f"displayName eq {odata_string(name)}", **GROUP_SELECT},
            what=f"groups named {name!r}",
        )
    )
    if not found:
        near = _nearest(client, name)
        meant = f"did you mean {' or '.join(_spelt(n, name) for n in near)}? " if near else ""
        prefix = name[:3]
        listing = command_line("entrasync", "groups", *(("--",) * prefix.startswith("-")), prefix)
        return GroupResolutionError(
            "missing",
            f"no Entra group is named {name!r}",
            f"{meant}check the spelling (`{sanitize.text(listing)}` lists groups by prefix), "
            "or map the group by id; a group created minutes ago may not have replicated yet",
        )
    if len(found) > 1:
        ids = sanitize.text(", ".join(sorted(str(g.get("id")) for g in found)))
        return GroupResolutionError(
            "ambiguous",
            f"{len(found)} Entra groups are named {name!r}: {ids}",
            "display names are not unique in Entra: put the intended group's `id` in the mapping",
        )
    group_id = found[0].get("id")
    if not isinstance(group_id, str) or not is_guid(group_id):
        # Entra's ids are GUIDs; another would go into the member read's path as it is.
        said = "without its id" if not group_id else f"with id {sanitize.text(repr(group_id)[:60])}"
        raise GraphError(
            f"Microsoft Graph listed the group named {name!r} {said}",
            ODD_ANSWER_HINT,
        )
    return Group(id=group_id, display_name=str(found[0].get("displayName") or name))


def _spelt(suggested: str, given: str) -> str:
    """A suggested name in double quotes, as a YAML (and JSON) string spells it, to be copied
    into the file. One that is the given name in another Unicode form (``É`` as ``E`` and a
    combining accent) would print as the same text: it is spelt in escapes, which show how."""
    if unicodedata.normalize("NFKC", suggested) != unicodedata.normalize("NFKC", given):
        return json.dumps(suggested, ensure_ascii=False)
    return f"{json.dumps(suggested)} (the same letters in other code points: copy this spelling)"


def _nearest(client: GraphClient, name: str, prefix: int = 3) -> list[str]:
    """Up to three display names close to ``name``, among the groups sharing its first
    characters (one more filtered request, made only when a name matches no group)."""
    if len(name) < prefix:
        return []
    start = name[:prefix]
    candidates = {
        str(g.get("displayName") or "")
        for g in client.paged(
            "groups",
            {"$filter": f"startswith(displayName,{odata_string(start)})", **GROUP_SELECT},
            what=f"groups starting with {start!r}",
        )
    }
    folded = {c.casefold(): c for c in sorted(candidates) if c}  # sorted: the same every run
    close = difflib.get_close_matches(name.casefold(), list(folded), n=3, cutoff=0.75)
    return [folded[c] for c in close]
