"""The emulated Graph v1.0 reads over real sockets: paging, $select, $filter, $top, errors."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import httpx
import pytest

from entrasync.sandbox.graph_emulator import GraphEmulator
from entrasync.sandbox.tenant import SandboxGroup, SandboxObject, SandboxTenant, SandboxUser
from tests.integration.emulator.conftest import (
    BIG,
    BIG_SIZE,
    CHILD,
    DEVICE,
    PARENT,
    Graph,
    fetch_token,
    small_tenant,
    user_id,
)

SELECT = "id,userPrincipalName,mail,displayName,accountEnabled,userType"


def read_all(graph: Graph, first: str, **headers: str) -> tuple[list[dict[str, object]], int]:
    items: list[dict[str, object]] = []
    url: str | None = first
    pages = 0
    while url:
        response = graph.get(url, **headers)
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["value"])
        url = body.get("@odata.nextLink")
        pages += 1
    return items, pages


@pytest.mark.parametrize(
    ("top", "pages"),
    [
        pytest.param("999", 3, id="top 999 reads 2,500 members in three pages"),
        pytest.param(None, 25, id="no top reads 2,500 members in pages of the default 100"),
        pytest.param("7", 358, id="top 7 ends on a short page"),
    ],
)
def test_paging_returns_every_member_once_in_order(
    graph: Graph, top: str | None, pages: int
) -> None:
    query = f"?$select={SELECT}" + (f"&$top={top}" if top else "")
    items, seen_pages = read_all(graph, f"/groups/{BIG}/transitiveMembers{query}")
    assert [i["id"] for i in items] == [user_id(i) for i in range(BIG_SIZE)]
    assert seen_pages == pages
    assert graph.emulator.counters["members_page"] == pages


@dataclass(frozen=True)
class CountingTenant(SandboxTenant):
    """The small tenant, noting every object the emulator looks up."""

    looked_up: list[str] = field(default_factory=list)

    def object(self, object_id: str) -> SandboxUser | SandboxGroup | SandboxObject | None:
        self.looked_up.append(object_id)
        return super().object(object_id)


def test_a_listing_is_built_once_and_each_page_is_a_slice_of_it() -> None:
    """Paging costs the page, not the group: a 200,000-member group's 201 pages used to
    rebuild its member list once each (benchmarks/README.md)."""
    base = small_tenant()
    tenant = CountingTenant(base.tenant_id, base.client_id, base.users, base.groups, base.others)
    with GraphEmulator(tenant) as emulator:
        graph = Graph(emulator)
        try:
            query = f"?$select={SELECT}&$top=7"
            items, pages = read_all(graph, f"/groups/{BIG}/transitiveMembers{query}")
            again, _ = read_all(graph, f"/groups/{BIG}/transitiveMembers{query}")
        finally:
            graph.close()
    assert pages == 358
    assert (
        [i["id"] for i in items]
        == [i["id"] for i in again]
        == [user_id(i) for i in range(BIG_SIZE)]
    )
    assert len(tenant.looked_up) == BIG_SIZE  # once per member, not once per member per page


def test_next_link_is_an_absolute_url_keeping_the_query_with_an_opaque_skiptoken(
    graph: Graph,
) -> None:
    body = graph.get(f"/groups/{BIG}/members?$select=id,displayName&$top=999").json()
    link = body["@odata.nextLink"]
    assert link.startswith(f"{graph.emulator.base_url}/v1.0/groups/{BIG}/members?")
    assert "$select=id,displayName" in link
    assert "$top=999" in link
    token = re.search(r"\$skiptoken=([^&]+)", link)
    assert token is not None
    assert "999" not in token.group(1)


def test_a_stale_page_token_gives_directory_expired_page_token(graph: Graph) -> None:
    link = graph.get(f"/groups/{BIG}/members").json()["@odata.nextLink"]
    graph.emulator.expire_page_tokens()
    response = graph.get(link)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "Directory_ExpiredPageToken"


@pytest.mark.parametrize(
    ("top", "status"),
    [
        pytest.param("999", 200, id="top 999 is the maximum page size"),
        pytest.param("1000", 400, id="top 1000 is a bad request"),
        pytest.param("0", 400, id="top 0 is a bad request"),
        pytest.param("ten", 400, id="a non-numeric top is a bad request"),
    ],
)
def test_top_limits(graph: Graph, top: str, status: int) -> None:
    response = graph.get(f"/groups/{BIG}/members?$top={top}")
    assert response.status_code == status
    if status == 400:
        assert response.json()["error"]["code"] == "Request_BadRequest"


def test_select_only_returns_the_named_fields_and_always_the_odata_type(graph: Graph) -> None:
    plain = graph.get(f"/groups/{PARENT}/members").json()["value"][0]
    assert "accountEnabled" not in plain
    assert "userType" not in plain
    assert plain["@odata.type"] == "#microsoft.graph.user"
    selected = graph.get(f"/groups/{PARENT}/members?$select=id,accountEnabled,userType")
    assert selected.json()["value"][0] == {
        "@odata.type": "#microsoft.graph.user",
        "id": user_id(1),
        "accountEnabled": True,
        "userType": "Member",
    }


def test_members_lists_direct_objects_and_transitive_members_flattens_nesting(
    graph: Graph,
) -> None:
    direct = graph.get(f"/groups/{PARENT}/members?$select=id").json()["value"]
    assert [(m["@odata.type"], m["id"]) for m in direct] == [
        ("#microsoft.graph.user", user_id(1)),
        ("#microsoft.graph.user", user_id(2)),
        ("#microsoft.graph.group", CHILD),
        ("#microsoft.graph.device", DEVICE),
    ]
    flat = graph.get(f"/groups/{PARENT}/transitiveMembers?$select=id").json()["value"]
    assert [m["id"] for m in flat] == [user_id(1), user_id(2), CHILD, DEVICE, user_id(3)]


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        pytest.param("displayName eq 'NT-Platform'", ["NT-Platform"], id="eq matches exactly"),
        pytest.param("displayName eq 'nt-platform'", ["NT-Platform"], id="eq ignores case"),
        pytest.param("displayName eq 'NT-Contractor''s'", ["NT-Contractor's"], id="'' escapes"),
        pytest.param("displayName eq 'NT-Nobody'", [], id="eq with no match is empty"),
        pytest.param(
            "startswith(displayName,'nt-')",
            ["NT-Everyone", "NT-Platform", "NT-Contractor's"],
            id="startswith ignores case",
        ),
        pytest.param("startsWith(displayName, 'NT-P')", ["NT-Platform"], id="startsWith spelling"),
    ],
)
def test_group_filters(graph: Graph, expression: str, names: list[str]) -> None:
    response = graph.http.get(
        f"{graph.emulator.base_url}/v1.0/groups",
        params={"$filter": expression, "$select": "id,displayName"},
        headers={"Authorization": f"Bearer {graph.token}"},
    )
    assert response.status_code == 200, response.text
    assert [g["displayName"] for g in response.json()["value"]] == names


def test_an_unsupported_filter_is_request_unsupported_query(graph: Graph) -> None:
    response = graph.get("/groups?$filter=mail eq 'x'")
    assert response.json()["error"]["code"] == "Request_UnsupportedQuery"


def test_count_needs_consistency_level_eventual(graph: Graph) -> None:
    refused = graph.get("/groups?$count=true")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "Request_BadRequest"
    counted = graph.get("/groups?$count=true", ConsistencyLevel="eventual")
    assert counted.json()["@odata.count"] == 3
    users = graph.get(
        f"/groups/{PARENT}/transitiveMembers/microsoft.graph.user/$count",
        ConsistencyLevel="eventual",
    )
    assert users.text == "3"


def test_get_group_and_user_with_select(graph: Graph) -> None:
    group = graph.get(f"/groups/{PARENT}?$select=id,displayName").json()
    assert (group["id"], group["displayName"]) == (PARENT, "NT-Platform")
    assert "description" not in group
    user = graph.get(f"/users/{user_id(7)}?$select=id,userType").json()
    assert (user["id"], user["userType"]) == (user_id(7), "Guest")
    by_upn = graph.get("/users/USER7@contoso.com?$select=id").json()
    assert by_upn["id"] == user_id(7)


def test_not_found_has_graph_error_shape_and_request_ids(graph: Graph) -> None:
    response = graph.get(
        "/groups/99999999-9999-4999-8999-999999999999", **{"client-request-id": "abc-123"}
    )
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "Request_ResourceNotFound"
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}
    assert error["innerError"]["client-request-id"] == "abc-123"
    assert response.headers["request-id"] == error["innerError"]["request-id"]


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        pytest.param(None, "Access token is empty.", id="a missing token is rejected"),
        pytest.param("Bearer nope", "Access token validation failure", id="an unknown token"),
    ],
)
def test_requests_without_a_valid_token_get_401(
    graph: Graph, authorization: str | None, message: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = httpx.get(
        f"{graph.emulator.base_url}/v1.0/groups/{PARENT}",
        headers=headers,
        verify=graph.emulator.verify,
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert response.json()["error"]["message"].startswith(message)


def test_an_expired_token_gets_401_and_a_new_one_works(graph: Graph) -> None:
    graph.emulator.expire_access_tokens()
    expired = graph.get(f"/groups/{PARENT}")
    assert expired.status_code == 401
    assert "expired" in expired.json()["error"]["message"]
    graph.token = fetch_token(graph.http, graph.emulator).json()["access_token"]
    assert graph.get(f"/groups/{PARENT}").status_code == 200
