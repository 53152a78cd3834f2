"""The I/O floor: download the pages a plan needs with plain httpx, nothing else.

What ``plan``'s wall time is compared with (issue 7: at most 2x this). It fetches one token,
then, both APIs at once and each with the same concurrency as the plan: every synced group's
member pages (``$top=999``, following ``@odata.nextLink``, a group-name lookup only where a
mapping has no id), and every SCIM ``/Users`` page (the first to learn ``totalResults``, then
the rest in parallel). It parses each body as JSON, which any reader must, and builds nothing.

    python benchmarks/baseline.py RESULT.json CONFIG.yaml --parallelism 16
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from math import ceil
from pathlib import Path
from typing import Any

import httpx

MEMBER_SELECT = "id,userPrincipalName,mail,displayName,givenName,surname,accountEnabled,userType"
SCIM_ATTRIBUTES = (
    "userName,externalId,displayName,emails,active,name,roles,entitlements,meta.version"
)
SCIM_PAGE = 1000


class Floor:
    def __init__(self, environ: dict[str, str], parallelism: int) -> None:
        verify: ssl.SSLContext | bool = True
        if environ.get("SSL_CERT_FILE"):
            verify = ssl.create_default_context(cafile=environ["SSL_CERT_FILE"])
        limits = httpx.Limits(max_connections=parallelism, max_keepalive_connections=parallelism)
        self.graph = httpx.Client(verify=verify, limits=limits, timeout=60)
        self.scim = httpx.Client(limits=limits, timeout=60)
        self.env, self.parallelism = environ, parallelism
        self.requests = {"graph": 0, "scim": 0, "login": 0}
        self.bytes = 0

    def token(self) -> str:
        authority = self.env["AZURE_AUTHORITY_HOST"].rstrip("/")
        graph = self.env["ENTRASYNC_GRAPH_URL"].rstrip("/")
        response = self.graph.post(
            f"{authority}/{self.env['AZURE_TENANT_ID']}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.env["AZURE_CLIENT_ID"],
                "client_secret": self.env["AZURE_CLIENT_SECRET"],
                "scope": f"{graph}/.default",
            },
        )
        response.raise_for_status()
        self.requests["login"] += 1
        return str(response.json()["access_token"])

    def _get(self, client: httpx.Client, api: str, url: str, **kwargs: Any) -> Any:
        response = client.get(url, **kwargs)
        response.raise_for_status()
        self.requests[api] += 1
        self.bytes += len(response.content)
        return response.json()

    def read_graph(self, mappings: list[dict[str, Any]], pool: ThreadPoolExecutor) -> int:
        graph = self.env["ENTRASYNC_GRAPH_URL"].rstrip("/") + "/v1.0"
        headers = {"Authorization": f"Bearer {self.token()}"}

        def group(mapping: dict[str, Any]) -> int:
            group_id = mapping.get("id")
            if not group_id:
                name = str(mapping["name"]).replace("'", "''")
                found = self._get(
                    self.graph,
                    "graph",
                    f"{graph}/groups",
                    params={"$filter": f"displayName eq '{name}'", "$select": "id,displayName"},
                    headers=headers,
                )
                group_id = found["value"][0]["id"]
            url: str | None = f"{graph}/groups/{group_id}/transitiveMembers"
            params: dict[str, str] | None = {"$top": "999", "$select": MEMBER_SELECT}
            items = 0
            while url is not None:
                page = self._get(self.graph, "graph", url, params=params, headers=headers)
                items += len(page.get("value", []))
                url, params = page.get("@odata.nextLink"), None
            return items

        synced = [m for m in mappings if m.get("auto_sync", True)]
        return sum(pool.map(group, synced))

    def read_scim(self, pool: ThreadPoolExecutor) -> int:
        url = self.env["NEURALTRUST_SCIM_URL"].rstrip("/") + "/Users"
        headers = {"Authorization": f"Bearer {self.env['NEURALTRUST_SCIM_TOKEN']}"}

        def page(start: int) -> Any:
            params = {"startIndex": start, "count": SCIM_PAGE, "attributes": SCIM_ATTRIBUTES}
            return self._get(self.scim, "scim", url, params=params, headers=headers)

        first = page(1)
        total = int(first["totalResults"])
        starts = [1 + SCIM_PAGE * i for i in range(1, ceil(total / SCIM_PAGE))]
        rest = list(pool.map(page, starts))
        return len(first["Resources"]) + sum(len(p["Resources"]) for p in rest)


def run(environ: dict[str, str], config: dict[str, Any], parallelism: int) -> dict[str, Any]:
    floor = Floor(environ, parallelism)
    start = time.perf_counter()
    with (
        ThreadPoolExecutor(parallelism) as graph_pool,
        ThreadPoolExecutor(parallelism) as scim_pool,
        ThreadPoolExecutor(2) as sides,
    ):
        read_graph: Callable[[], int] = lambda: floor.read_graph(config["mappings"], graph_pool)  # noqa: E731
        graph_items = sides.submit(read_graph)
        scim_users = sides.submit(floor.read_scim, scim_pool)
        result = {"graph_member_items": graph_items.result(), "scim_users": scim_users.result()}
    wall = time.perf_counter() - start
    return {"wall_seconds": round(wall, 3), "requests": floor.requests, "bytes": floor.bytes} | (
        result
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("config", type=Path)
    parser.add_argument("--parallelism", type=int, default=16)
    args = parser.parse_args()
    config = json.loads(args.config.read_text())
    result = run(dict(os.environ), config, args.parallelism)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
