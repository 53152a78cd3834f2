"""The emulated Graph v1.0 resources entrasync reads: groups, their members, users.

Pure request -> reply over the frozen tenant; the server adds auth, knobs and headers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, unquote

from entrasync.sandbox.graph_odata import (
    DirectoryEntry,
    GraphFailure,
    PageTokens,
    bad_request,
    group_filter,
    mail_filter,
    not_found,
    parse_select,
    parse_top,
    project,
    require_eventual,
)
from entrasync.sandbox.tenant import SandboxTenant, SandboxUser

PermissionMode = Literal["full", "denied", "groupmember_only", "no_roles"]
# How a listing's pages after the first link on: "off" onwards; "same" to themselves, the very
# nextLink they were fetched by; "fresh" to themselves through a new $skiptoken each time, so
# the links never repeat. After LOOP_PAGES looping pages the listing goes on and ends, so a
# client that does not notice the loop finishes (with the wrong pages) rather than hangs.
LOOP_PAGES = 200
NextLinkLoop = Literal["off", "same", "fresh"]
Query = Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class GraphReply:
    body: dict[str, Any] | str  # str for the text/plain $count replies
    counter: str  # which emulator counter this request bumps


def _denied() -> GraphFailure:
    return GraphFailure(
        403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
    )


_USER_BY_KEY = re.compile(r"users\('((?:[^']|'')*)'\)")


class GraphApi:
    def __init__(self, tenant: SandboxTenant, pages: PageTokens) -> None:
        self.tenant = tenant
        self.pages = pages
        self.next_link_loop: NextLinkLoop = "off"
        self.loops_left = LOOP_PAGES

    @property
    def tenant(self) -> SandboxTenant:
        return self._tenant

    @tenant.setter
    def tenant(self, tenant: SandboxTenant) -> None:
        """A test may swap the tenant between requests: listings are built anew from it."""
        self._tenant = tenant
        # (group id, relation, users only) -> its member objects in listing order, built on
        # the first page asked for, so each later page is a slice: without it every 999-member
        # page rebuilt the whole list (132 ms a page at 200,000 members, benchmarks/README.md).
        self._listings: dict[tuple[str, str, bool], list[DirectoryEntry | None]] = {}

    def get(
        self,
        base_url: str,
        path: str,
        query: Query,
        headers: Mapping[str, str],
        mode: PermissionMode,
    ) -> GraphReply:
        """``path`` starts after ``/v1.0``; ``headers`` has lower-case names."""
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if (keyed := _USER_BY_KEY.fullmatch(parts[0])) is not None and len(parts) == 1:
            parts = ["users", keyed.group(1).replace("''", "'")]  # users('$x@contoso.com')
        elif len(parts) == 2 and parts[0] == "users" and parts[1].startswith("$"):
            # As Graph answers it: a UPN that starts with `$` is given as users('$...').
            raise bad_request(
                "The request URI is not valid. Since the segment 'users' refers to a "
                "collection, this must be the last segment in the request URI or it must be "
                "followed by an function or action that can be bound to it otherwise all "
                "intermediate segments must refer to a single resource.",
                "BadRequest",
            )
        if "$count" in query and query["$count"][-1].lower() == "true":
            require_eventual(headers, "$count")
        if parts == ["groups"]:
            return self._list_groups(base_url, query)
        if len(parts) == 2 and parts[0] == "groups":
            group = self.tenant.groups_by_id.get(parts[1])
            if group is None:
                raise not_found(parts[1])
            body = project(group, parse_select(query.get("$select", ())), typed=False)
            context = f"{base_url}/v1.0/$metadata#groups/$entity"
            return GraphReply({"@odata.context": context, **body}, "group_get")
        if (
            len(parts) >= 3
            and parts[0] == "groups"
            and parts[2]
            in (
                "members",
                "transitiveMembers",
            )
        ):
            return self._members(base_url, path, parts, query, headers, mode)
        if parts == ["users"]:
            if mode == "groupmember_only":
                raise _denied()
            filters = query.get("$filter", ())
            wanted = mail_filter(filters[-1] if filters else None)
            found = [u for u in self.tenant.users if (u.mail or "").casefold() == wanted]
            select = parse_select(query.get("$select", ()))
            body = {
                "@odata.context": f"{base_url}/v1.0/$metadata#users",
                "value": [project(u, select, typed=False) for u in found],
            }
            return GraphReply(body, "user_list")
        if len(parts) == 2 and parts[0] == "users":
            if mode == "groupmember_only":
                raise _denied()  # User.Read.All is the missing half of the minimal set
            user = self._user(parts[1])
            body = project(user, parse_select(query.get("$select", ())), typed=False)
            context = f"{base_url}/v1.0/$metadata#users/$entity"
            return GraphReply({"@odata.context": context, **body}, "user_get")
        raise bad_request(
            f"Resource not found for the segment '{parts[-1] if parts else ''}'.", "BadRequest"
        )

    def _user(self, key: str) -> SandboxUser:
        user = self.tenant.users_by_id.get(key) or self.tenant.users_by_upn.get(key.casefold())
        if user is None:
            raise not_found(key)
        return user

    def _list_groups(self, base_url: str, query: Query) -> GraphReply:
        filters = query.get("$filter", ())
        keep = group_filter(filters[-1] if filters else None)
        matches = [g for g in self.tenant.groups if keep(g)]
        select = parse_select(query.get("$select", ()))
        body = self._page(
            base_url, "/v1.0/groups", query, matches, lambda g: project(g, select, typed=False)
        )
        body["@odata.context"] = f"{base_url}/v1.0/$metadata#groups"
        return GraphReply(body, "group_list")

    def _members(
        self,
        base_url: str,
        path: str,
        parts: list[str],
        query: Query,
        headers: Mapping[str, str],
        mode: PermissionMode,
    ) -> GraphReply:
        group_id, relation, rest = parts[1], parts[2], parts[3:]
        if group_id not in self.tenant.groups_by_id:
            raise not_found(group_id)
        users_only = bool(rest) and rest[0] == "microsoft.graph.user"
        if users_only:
            # The cast reads the advanced-query index, so it needs the eventual header too.
            require_eventual(headers, "Casting")
            rest = rest[1:]
        entries = self._listing(group_id, relation, users_only)
        if rest == ["$count"]:
            require_eventual(headers, "$count")
            return GraphReply(str(len(entries)), "members_count")
        if rest:
            raise bad_request(f"Resource not found for the segment '{rest[0]}'.", "BadRequest")
        select = parse_select(query.get("$select", ()))
        only_ids = mode == "groupmember_only"
        body = self._page(
            base_url,
            path,
            query,
            entries,
            lambda e: project(e, select, typed=True, only_ids=only_ids),
        )
        fields = ",".join(select) if select else ""
        body["@odata.context"] = f"{base_url}/v1.0/$metadata#directoryObjects({fields})"
        kind = "transitive" if relation == "transitiveMembers" else "direct"
        return GraphReply(body, f"members_page.{kind}")

    def _listing(
        self, group_id: str, relation: str, users_only: bool
    ) -> list[DirectoryEntry | None]:
        key = (group_id, relation, users_only)
        listing = self._listings.get(key)
        if listing is None:
            tenant = self.tenant
            ids = (
                tenant.transitive_members(group_id)
                if relation == "transitiveMembers"
                else tenant.direct_members(group_id)
            )
            if users_only:
                ids = tuple(i for i in ids if i in tenant.users_by_id)
            # Two threads may build the same list at once: both are equal, either one is kept.
            listing = self._listings.setdefault(key, [tenant.object(i) for i in ids])
        return listing

    def _page(
        self,
        base_url: str,
        path: str,
        query: Query,
        items: Sequence[Any],
        render: Any,
    ) -> dict[str, Any]:
        top = parse_top(query.get("$top", ()))
        canonical = "/v1.0/" + path.strip("/").removeprefix("v1.0/")
        asked = query.get("$skiptoken", ())
        offset = self.pages.offset(canonical, asked)
        window = items[offset : offset + top]
        body: dict[str, Any] = {}
        if "$count" in query:
            body["@odata.count"] = len(items)
        looping = self.next_link_loop != "off" and offset > 0 and self.loops_left > 0
        if looping:
            self.loops_left -= 1  # the GIL keeps this exact enough for a test knob
        if looping or offset + top < len(items):
            if looping and self.next_link_loop == "same":
                token = asked[-1]
            else:
                token = self.pages.issue(canonical, offset if looping else offset + top)
            kept = [
                f"{quote(k, safe='$')}={quote(v, safe=',$()')}"
                for k, values in query.items()
                if k != "$skiptoken"
                for v in values
            ]
            kept.append(f"$skiptoken={token}")
            body["@odata.nextLink"] = f"{base_url}{canonical}?{'&'.join(kept)}"
        body["value"] = [render(item) for item in window if item is not None]
        return body
