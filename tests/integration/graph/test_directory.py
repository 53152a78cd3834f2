"""read_directory against the Graph emulator over HTTPS: paging, nesting, faults, permissions."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

import httpx
import pytest

from entrasync.adapters.graph.auth import make_token_provider, resolve_endpoints
from entrasync.adapters.graph.client import GraphClient
from entrasync.adapters.graph.directory import (
    list_groups,
    protected_users,
    read_directory,
    read_members,
)
from entrasync.adapters.graph.groups import GroupResolutionError
from entrasync.adapters.http import RetryPolicy, new_client
from entrasync.adapters.trust import ssl_context
from entrasync.config.models import Config
from entrasync.core.model import Directory, Group
from entrasync.errors import AuthError, GraphError
from entrasync.sandbox.graph_emulator import GraphEmulator
from entrasync.sandbox.tenant import SandboxUser

from .conftest import (
    BIG,
    G_BIG,
    G_CHILD,
    G_DUP1,
    G_DUP2,
    G_MIXED,
    G_PARENT,
    G_SMALL,
    TENANT,
    EmulatorFactory,
    make_config,
    secret_env,
    uid,
)

ALL = [
    {"id": G_BIG, "role": "owner"},
    {"name": "NT-Parent", "role": "admin"},
    {"id": G_MIXED, "name": "nt-mixed", "role": "member"},
    {"name": "NT-Small", "role": "member", "auto_sync": False},
]


FAST = RetryPolicy(max_retries=4, base_delay=0.001, max_delay=0.05)


def read(emulator: GraphEmulator, config: Config, parallelism: int = 4) -> Directory:
    with GraphClient.connect(config, secret_env(emulator), policy=FAST) as client:
        return read_directory(config, client, parallelism=parallelism)


def members(directory: Directory) -> dict[str, tuple[str, ...]]:
    return {g.group.display_name: g.member_ids for g in directory.groups}


def test_synced_groups_are_read_whole_with_users_only(emulator: GraphEmulator) -> None:
    directory = read(emulator, make_config(ALL))
    got = members(directory)
    assert list(got) == ["NT-Big", "NT-Parent", "NT-Mixed"]  # mapping order; auto_sync off skipped
    assert got["NT-Big"] == tuple(uid(i) for i in range(BIG))
    assert set(got["NT-Parent"]) == {uid(BIG), uid(BIG + 1), uid(BIG + 2)}  # through NT-Child
    assert got["NT-Mixed"] == (uid(BIG + 3),)  # device, service principal, contact skipped
    assert [g.mapping_index for g in directory.groups] == [0, 1, 2]
    user = directory.users[uid(13)]
    assert (user.user_type, user.account_enabled, user.mail) == (
        "Guest",
        True,
        "user13@contoso.com",
    )
    assert directory.users[uid(11)].account_enabled is False
    assert directory.users[uid(14)].mail is None
    assert len(directory.users) == BIG + 4


def test_direct_membership_when_nested_groups_is_off(emulator: GraphEmulator) -> None:
    directory = read(
        emulator, make_config([{"id": G_PARENT, "role": "owner"}], nested_groups=False)
    )
    assert members(directory) == {"NT-Parent": (uid(BIG),)}


@pytest.mark.parametrize(
    ("mappings", "lookups", "pages"),
    [
        ([{"id": G_BIG, "role": "owner"}], {"group_get": 1}, 3),
        ([{"name": "NT-Big", "role": "owner"}], {"group_list": 1}, 3),
        (
            [{"id": g, "role": "owner"} for g in (G_BIG, G_SMALL, G_MIXED)],
            {"batch": 1, "group_get": 3},
            3 + 1 + 1,
        ),
        (
            [{"id": G_BIG, "role": "owner"}, {"name": "NT-Small", "role": "member"}],
            {"group_get": 1, "group_list": 1},
            3 + 1,
        ),
    ],
    ids=[
        "one group by id is one plain GET",
        "one group by name is one filter",
        "three groups by id share one $batch",
        "an id and a name are one GET and one filter",
    ],
)
def test_groups_cost_their_lookups_plus_ceil_m_over_999_pages_each(
    emulator: GraphEmulator, mappings: list[dict[str, str]], lookups: dict[str, int], pages: int
) -> None:
    """Issue 4's acceptance, with lookups batched: ceil(ids / 20) requests (a batch of one is
    a plain GET) plus one per name, then max(1, ceil(M / 999)) member pages per group."""
    read(emulator, make_config(mappings))
    assert math.ceil(BIG / 999) == 3  # NT-Big's pages; NT-Small and NT-Mixed fit in one
    assert emulator.counters["members_page"] == pages
    assert {k: emulator.counters[k] for k in ("batch", "group_get", "group_list")} == {
        "batch": 0,
        "group_get": 0,
        "group_list": 0,
        **lookups,
    }
    identity = emulator.counters["token"] + emulator.counters["discovery"]
    requests = lookups.get("batch", lookups.get("group_get", 0)) + lookups.get("group_list", 0)
    assert emulator.counters["requests"] - identity == requests + pages


def test_throttling_storms_and_503s_give_the_same_directory_as_a_clean_run(
    emulator_factory: EmulatorFactory,
) -> None:
    config = make_config(ALL)
    clean = read(emulator_factory(), config)
    # One reader, so the storm's pattern is deterministic: every 3rd call is a 429 with a
    # decimal Retry-After, every 5th a 503 without one (backoff), never more than 2 in a row.
    stormy = emulator_factory(throttle_every=3, fail_503_every=5, retry_after="0.01")
    assert read(stormy, config, parallelism=1) == clean
    assert stormy.counters["throttled"] >= 3
    assert stormy.counters["503"] >= 1


def test_graph_asking_for_longer_than_entrasync_waits_is_said_at_once(
    emulator_factory: EmulatorFactory,
) -> None:
    throttled = emulator_factory(throttle_every=1, retry_after="3600")
    with pytest.raises(GraphError) as caught:
        read(throttled, make_config(ALL), parallelism=1)
    assert ", and asked to wait 3,600 s (Retry-After), longer than entrasync waits (HTTP 429" in (
        caught.value.message
    )
    assert (caught.value.hint or "").endswith("run again once that time has passed")
    assert throttled.counters["throttled"] == 2  # the $batch of the two ids, not asked again


def test_reads_run_concurrently_within_the_bound(emulator_factory: EmulatorFactory) -> None:
    slow = emulator_factory(latency=0.02)
    mappings = [{"id": g, "role": "member"} for g in (G_BIG, G_PARENT, G_CHILD, G_MIXED, G_SMALL)]
    read(slow, make_config(mappings), parallelism=2)
    assert slow.peak_concurrency == 2


def test_an_access_token_expiring_mid_read_is_renewed_once_for_all_readers(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = emulator_factory(latency=0.01)  # so the four readers overlap
    # By name: each lookup is its own request, so the first reads after the expiry overlap
    # (ids would share one $batch).
    groups = ("NT-Big", "NT-Parent", "NT-Child", "NT-Mixed", "NT-Small")
    config = make_config([{"name": g, "role": "member"} for g in groups])
    with GraphClient.connect(config, secret_env(emulator)) as client:
        first = read_directory(config, client, parallelism=4)
        emulator.expire_access_tokens()
        second = read_directory(config, client, parallelism=4)
    assert first == second
    assert emulator.counters["unauthorized"] >= 2  # several readers hit the 401 at once
    assert emulator.counters["token"] == 2  # ... and one new token served them all


def test_a_token_without_roles_is_a_401_asking_for_consent(
    emulator_factory: EmulatorFactory,
) -> None:
    with pytest.raises(AuthError) as caught:
        read(emulator_factory(permission_mode="no_roles"), make_config(ALL))
    assert "401 InvalidAuthenticationToken" in caught.value.message
    assert "admin consent" in (caught.value.hint or "")


def test_a_denied_app_is_told_which_permissions_to_grant(emulator_factory: EmulatorFactory) -> None:
    with pytest.raises(AuthError) as caught:
        read(emulator_factory(permission_mode="denied"), make_config(ALL))
    assert "403 Authorization_RequestDenied" in caught.value.message
    assert "request-id" in caught.value.message
    assert "GroupMember.Read.All and User.Read.All" in (caught.value.hint or "")
    assert (caught.value.hint or "").endswith(
        "; a group with hidden membership also needs Member.Read.Hidden"
    )


FORGED = "NT-Small\nerror: forged by Entra\n::warning::x"


def test_a_group_name_cannot_forge_a_line_of_an_error(
    emulator_factory: EmulatorFactory, emulator: GraphEmulator
) -> None:
    """Errors keep their line breaks (a hint is a line of its own); a group's name from Entra
    is made one inert line where it goes into one, or it wrote an `error:` line of its own."""
    groups = tuple(replace(g, display_name=FORGED) if g.id == G_SMALL else g for g in TENANT.groups)
    renamed = emulator_factory(replace(TENANT, groups=groups), permission_mode="groupmember_only")
    with pytest.raises(AuthError) as caught:
        read(renamed, make_config([{"id": G_SMALL, "role": "member"}]))
    assert "\n" not in caught.value.message
    assert (
        "group NT-Small\\x0aerror: forged by Entra\\x0a::warning::x without" in caught.value.message
    )
    # The same in the members' read, whose failures all name the group (here: gone).
    config = make_config([{"id": G_SMALL, "role": "member"}])
    gone = Group("00000000-0000-4000-8000-00000000dead", FORGED)
    with (
        GraphClient.connect(config, secret_env(emulator), policy=FAST) as client,
        pytest.raises(GraphError) as failed,
    ):
        read_members(client, gone, nested=False)
    assert "\n" not in failed.value.message
    assert "group NT-Small\\x0aerror: forged by Entra" in failed.value.message


def test_ids_graph_names_for_one_name_are_listed_inert(emulator_factory: EmulatorFactory) -> None:
    # Listed before any id is checked: one holding a line break wrote a line of its own.
    forged = "x\nerror: forged"
    groups = tuple(replace(g, id=forged) if g.id == G_DUP2 else g for g in TENANT.groups)
    odd = emulator_factory(replace(TENANT, groups=groups))
    with pytest.raises(GroupResolutionError) as caught:
        read(odd, make_config([{"name": "NT-Dup", "role": "owner"}]))
    assert caught.value.kind == "ambiguous"
    assert "\n" not in caught.value.message
    assert "x\\x0aerror: forged" in caught.value.message


def test_a_group_found_by_name_whose_id_is_no_guid_stops_the_read(
    emulator_factory: EmulatorFactory,
) -> None:
    # Its id went into the members' request path as it came: `../users` read another list.
    groups = tuple(replace(g, id="../users") if g.id == G_SMALL else g for g in TENANT.groups)
    odd = emulator_factory(replace(TENANT, groups=groups))
    with pytest.raises(GraphError) as caught:
        read(odd, make_config([{"name": "NT-Small", "role": "member"}]))
    assert caught.value.message == (
        "Microsoft Graph listed the group named 'NT-Small' with id '../users'"
    )
    assert odd.counters["members_page"] == 0


def test_members_without_attributes_fail_naming_user_read_all(
    emulator_factory: EmulatorFactory,
) -> None:
    with pytest.raises(AuthError, match="userPrincipalName is null") as caught:
        read(emulator_factory(permission_mode="groupmember_only"), make_config(ALL))
    assert "User.Read.All" in (caught.value.hint or "")


def test_a_missing_group_id_is_named_with_the_replication_hint(emulator: GraphEmulator) -> None:
    missing = "0b3f1c9e-1111-4c1e-9a0b-000000000001"
    with pytest.raises(GraphError) as caught:
        read(emulator, make_config([{"id": missing, "role": "owner"}]))
    assert missing in caught.value.message
    assert "404 Request_ResourceNotFound" in caught.value.message
    assert "replicated" in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("mapping", "kind", "text"),
    [
        ({"name": "NT-Nobody", "role": "owner"}, "missing", "no Entra group is named 'NT-Nobody'"),
        (
            {"name": "NT-Dup", "role": "owner"},
            "ambiguous",
            f"2 Entra groups are named 'NT-Dup': {G_DUP1}, {G_DUP2}",
        ),
        (
            {"id": G_BIG, "name": "NT-Small", "role": "owner"},
            "mismatch",
            "is named 'NT-Big' in Entra, not 'NT-Small'",
        ),
    ],
    ids=[
        "a name matching no group",
        "a name matching two groups lists both ids",
        "an id whose name differs",
    ],
)
def test_group_resolution_failures_are_explained(
    emulator: GraphEmulator, mapping: dict[str, str], kind: str, text: str
) -> None:
    with pytest.raises(GroupResolutionError) as caught:
        read(emulator, make_config([mapping]))
    assert caught.value.kind == kind
    assert text in caught.value.message


def test_an_expired_page_token_restarts_the_listing(emulator: GraphEmulator) -> None:
    config = make_config([{"id": G_BIG, "role": "owner"}])
    with GraphClient.connect(config, secret_env(emulator)) as client:
        pages = client.paged(f"groups/{G_BIG}/members", {"$select": "id"})
        first = [next(pages) for _ in range(999)]
        emulator.expire_page_tokens()
        rest = list(pages)
    ids = [item["id"] for item in first + rest]
    assert len(ids) == len(set(ids)) == BIG


def test_list_groups_by_prefix_counts_user_members(emulator: GraphEmulator) -> None:
    config = make_config([])
    with GraphClient.connect(config, secret_env(emulator)) as client:
        nested = list_groups(client, "nt-p")
        direct = list_groups(client, "NT-P", nested=False)
        everything = list_groups(client, None)
    assert [tuple(g) for g in nested] == [(G_PARENT, "NT-Parent", 3)]
    assert [g.members for g in direct] == [1]
    assert [g.display_name for g in everything][:3] == ["NT-Big", "NT-Child", "NT-Dup"]
    assert {g.id: g.members for g in everything}[G_MIXED] == 1


def test_two_mappings_resolving_to_one_group_are_refused(emulator: GraphEmulator) -> None:
    config = make_config([{"id": G_SMALL, "role": "owner"}, {"name": "nt-small", "role": "member"}])
    with pytest.raises(
        GraphError, match=f"both resolve to group NT-Small \\({G_SMALL}\\)"
    ) as caught:
        read(emulator, config)
    assert "map each group once" in (caught.value.hint or "")


def test_a_user_in_several_groups_is_listed_by_each_and_held_once(
    emulator: GraphEmulator,
) -> None:
    config = make_config(
        [{"name": "NT-Parent", "role": "admin"}, {"name": "NT-Child", "role": "member"}]
    )
    with GraphClient.connect(config, secret_env(emulator), policy=FAST) as client:
        directory = read_directory(config, client, parallelism=4)
    parent, child = (set(g.member_ids) for g in directory.groups)
    # NT-Child's members are NT-Parent's too, transitively, and each group lists them.
    assert child == {uid(BIG + 1), uid(BIG + 2)}
    assert parent == {uid(BIG), *child}
    assert set(directory.users) == parent


def test_a_next_link_loop_stops_the_read_at_the_repeated_link(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = emulator_factory(next_link_loop="same")
    with pytest.raises(GraphError) as caught:
        read(emulator, make_config([{"id": G_BIG, "role": "owner"}]))
    assert caught.value.message == (
        f"Microsoft Graph sent a nextLink it had already sent while listing the members of "
        f"group NT-Big ({G_BIG}) (after 2 pages): its paging loops"
    )
    assert "nothing was changed in NeuralTrust" in str(caught.value.hint)
    assert emulator.counters["members_page"] == 2  # the repeated link is never followed


def test_a_listing_that_repeats_its_pages_under_fresh_links_stops_at_the_first_repeat(
    emulator_factory: EmulatorFactory,
) -> None:
    """Each repeated member was skipped, so a server that re-sent its second page under a new
    link for ever kept the reader paging until the page bound."""
    emulator = emulator_factory(next_link_loop="fresh")  # page 2 again, under a new link
    config = make_config([{"id": G_BIG, "role": "owner"}])
    with pytest.raises(GraphError) as caught:
        read(emulator, config)
    assert caught.value.message.startswith("Microsoft Graph listed ")
    assert caught.value.message.endswith(
        f" twice while listing the members of group NT-Big ({G_BIG}): its paging repeats"
    )
    assert emulator.counters["members_page"] == 3  # page 2 again, and no page after it


def test_a_listing_past_the_page_bound_stops_there(emulator: GraphEmulator) -> None:
    config = make_config([{"id": G_BIG, "role": "owner"}])
    with GraphClient.connect(config, secret_env(emulator), policy=FAST) as client:
        client.max_pages = 2  # NT-Big has three
        with pytest.raises(GraphError) as caught:
            read_directory(config, client)
    assert caught.value.message == (
        f"Microsoft Graph kept paging the listing of the members of group NT-Big ({G_BIG}) "
        "past 2 pages, more than any Entra listing holds"
    )
    assert emulator.counters["members_page"] == 2


def test_the_page_bound_is_generous_by_default(emulator: GraphEmulator) -> None:
    config = make_config([{"id": G_BIG, "role": "owner"}])
    with GraphClient.connect(config, secret_env(emulator), policy=FAST) as client:
        assert client.max_pages == 100_000
        client.max_pages = 3  # NT-Big's own three pages fit exactly
        directory = read_directory(config, client)
    assert len(directory.groups[0].member_ids) == BIG


def test_users_protected_by_their_entra_name_are_found_in_no_group_too(
    emulator_factory: EmulatorFactory,
) -> None:
    # Break-glass accounts are usually in no synced group: protected by UPN (any case) or by a
    # mail that is not their UPN, they are still found, each entry with a GET and a filter.
    bg = SandboxUser(
        "b9000000-0000-4000-8000-00000000000a", "bg@contoso.com", "glass@contoso.com", "BG"
    )
    upn = SandboxUser("b9000000-0000-4000-8000-00000000000b", "Root@contoso.com", None, "Root")
    # Another user whose mail is root's UPN: the entry names them both (it was root alone, and
    # this one, out of the synced groups, was deactivated as an orphan).
    alias = SandboxUser(
        "b9000000-0000-4000-8000-00000000000c", "ops@contoso.com", "root@contoso.com", "Ops"
    )
    tenant = replace(TENANT, users=(*TENANT.users, bg, upn, alias))
    emulator = emulator_factory(tenant=tenant)
    config = make_config(
        [{"id": G_SMALL, "role": "member"}],
    ).model_copy(
        update={"protected": ("glass@contoso.com", "root@CONTOSO.com", "gone@contoso.com")}
    )
    directory = read(emulator, config)
    assert directory.protected_ids == {bg.id.lower(), upn.id.lower(), alias.id.lower()}
    # With their UPN and mail: the NeuralTrust user their match key finds is not another's.
    assert {i: (u.user_principal_name, u.mail) for i, u in directory.protected_users.items()} == {
        bg.id.lower(): ("bg@contoso.com", "glass@contoso.com"),
        upn.id.lower(): ("Root@contoso.com", None),
        alias.id.lower(): ("ops@contoso.com", "root@contoso.com"),
    }
    assert directory.protected_unknown == {"gone@contoso.com"}
    assert emulator.counters["user_get"] == 1  # root's UPN; the other two 404
    assert emulator.counters["user_list"] == 3  # a mail filter for each entry


def test_a_protected_upn_that_starts_with_a_dollar_is_looked_up_as_graph_asks(
    emulator_factory: EmulatorFactory,
) -> None:
    # Graph answers GET /users/$x@... 400 (learn.microsoft.com/graph/api/user-get: give it
    # as users('$x@...')): every plan stopped while such an account was protected.
    dollar = SandboxUser(
        "b9000000-0000-4000-8000-00000000000d", "$break'glass@contoso.com", None, "Dollar"
    )
    emulator = emulator_factory(tenant=replace(TENANT, users=(*TENANT.users, dollar)))
    config = make_config([{"id": G_SMALL, "role": "member"}]).model_copy(
        update={"protected": ("$break'glass@contoso.com", "$nobody@contoso.com")}
    )
    directory = read(emulator, config)
    assert directory.protected_ids == {dollar.id.lower()}
    assert directory.protected_unknown == {"$nobody@contoso.com"}
    assert emulator.counters["user_get"] == 1


def test_protected_entries_are_looked_up_parallelism_at_a_time(emulator: GraphEmulator) -> None:
    """Two lookups per entry, one entry after another: 50 entries were 100 round trips."""
    entries = [f"user{i}@contoso.com" for i in range(8)]
    config = make_config([{"id": G_SMALL, "role": "member"}])
    with GraphClient.connect(config, secret_env(emulator), policy=FAST) as client:
        emulator.latency = 0.2
        emulator.reset_counters()
        found = protected_users(client, entries, parallelism=4)
    assert {e: set(users) for e, users in found.items()} == {
        entry: {uid(i).lower()} for i, entry in enumerate(entries)
    }
    assert emulator.counters["user_get"] == 8
    assert emulator.peak_concurrency == 4


def _client_through(
    emulator: GraphEmulator, config: Config, transport: Callable[..., httpx.BaseTransport]
) -> GraphClient:
    """A client of ``emulator`` whose requests go through ``transport(verify=...)``."""
    env = secret_env(emulator)
    http = new_client(env, transport=transport(verify=ssl_context(env)))
    token = make_token_provider(config, env)
    return GraphClient(resolve_endpoints(config, env).api_base, token, http=http, policy=FAST)


class _UsersWithoutIds(httpx.HTTPTransport):
    """Graph's answers about users (``/users/{upn}``, ``/users?$filter=mail eq``), their ids
    left out: only ``lookup`` of them."""

    def __init__(self, lookup: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lookup = lookup

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        path = request.url.path
        if "/users" not in path or response.status_code != 200:
            return response
        response.read()
        body = response.json()
        filtered = path.endswith("/users")
        if filtered and self.lookup == "mail":
            body["value"] = [{k: v for k, v in u.items() if k != "id"} for u in body["value"]]
        elif not filtered and self.lookup == "upn":
            body.pop("id", None)
        return httpx.Response(200, json=body, request=request)


@pytest.mark.parametrize("lookup", ["upn", "mail"])
def test_a_protected_user_answered_without_its_id_stops_the_read(
    lookup: str, emulator_factory: EmulatorFactory
) -> None:
    """The entry then named no one, a warning only: the break-glass owner it protects was
    planned to be deactivated."""
    both = SandboxUser(
        "b9000000-0000-4000-8000-00000000000d", "oncall@contoso.com", "oncall@contoso.com", "On"
    )
    emulator = emulator_factory(tenant=replace(TENANT, users=(*TENANT.users, both)))
    config = make_config([{"id": G_SMALL, "role": "member"}]).model_copy(
        update={"protected": ("oncall@contoso.com",)}
    )
    through = partial(_UsersWithoutIds, lookup)
    with _client_through(emulator, config, through) as client, pytest.raises(GraphError) as caught:
        read_directory(config, client)
    assert caught.value.message == (
        "Microsoft Graph answered the protected user oncall@contoso.com without its id"
    )


class _SignInPage(httpx.HTTPTransport):
    """A proxy in front of Graph that answers the member pages with its sign-in page."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/members") or "transitiveMembers" in request.url.path:
            return httpx.Response(200, html="<html>Sign in</html>", request=request)
        return super().handle_request(request)


def test_a_page_that_is_not_json_points_at_what_answered_in_graphs_place(
    emulator: GraphEmulator,
) -> None:
    config = make_config([{"id": G_SMALL, "role": "member"}])
    with (
        _client_through(emulator, config, _SignInPage) as client,
        pytest.raises(GraphError) as caught,
    ):
        read_directory(config, client)
    assert caught.value.message.startswith("Microsoft Graph sent a non-JSON answer for")
    assert "check ENTRASYNC_GRAPH_URL and any proxy on the way" in (caught.value.hint or "")
