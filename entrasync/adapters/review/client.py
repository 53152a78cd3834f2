"""The part every review platform client shares: one origin, one token, errors with hints.

Each request goes through :func:`entrasync.adapters.http.send` (retries, timeouts, no
redirects). A URL whose scheme, host or port differ from the API URL the CI names never gets
the token, so a ``next`` page link pointing elsewhere cannot carry it away.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit

import httpx

from entrasync.adapters.http import json_of, new_client, send
from entrasync.adapters.review import CommentGone, member
from entrasync.core import sanitize
from entrasync.core.wording import plural
from entrasync.errors import ReviewError

JSON = TypeVar("JSON", dict[str, Any], list[Any])
_SHAPES = {
    dict: "object",
    list: "list",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


# Pages of one listing (comments, notes, labels, issues, a repository's artifacts: 100 a
# page), a million items: reached only by a server that pages without end under fresh links
# (one that names a page again is stopped there).
MAX_PAGES = 10_000


_RUN_AGAIN = (
    "run the job again (the plan comment, and on GitHub the drift issue, are found and edited, "
    "not posted twice)"
)


def fallback_hint(platform: str, status: int) -> str:
    """What to do about an answer no hint of the platform's own covers."""
    if status >= 500:
        return f"{platform} failed on its side: {_RUN_AGAIN}"
    return (
        f"{platform} refused the request, as its message says: if a re-run of the job gets the "
        "same answer, report it with this message"
    )


class RestClient:
    """A thin REST client for one platform: subclasses give the headers and the errors."""

    platform = "the review platform"
    api_variable: str  # the CI variable that names the API URL, for hints: GITHUB_API_URL
    error = ReviewError
    refused_is_throttle = False  # a 403 with Retry-After is a rate limit (GitHub's)

    def __init__(self, api_url: httpx.URL, *, http: httpx.Client | None = None) -> None:
        self.api_url = api_url
        self._http = http or new_client()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def url(self, path: str) -> httpx.URL:
        """``path`` below the API URL (which may itself have a path, e.g. ``/api/v4``)."""
        return self.api_url.join(self.api_url.path.rstrip("/") + path)

    def headers(self) -> dict[str, str]:
        raise NotImplementedError

    def request(
        self,
        method: str,
        url: httpx.URL,
        *,
        what: str,
        json: Any = None,
        resend: bool = False,
        gone_is_done: bool = False,
        edits_comment: bool = False,
    ) -> httpx.Response:
        """An edit (PATCH, PUT) or a DELETE answered 504 is sent again: twice is as once. So is
        a POST that does no harm sent twice (``resend``: one that reads, or adds labels); any
        other POST answered 504 may have been carried out, and is an error (a comment posted
        twice is two comments).

        ``gone_is_done``: a DELETE answered 404 did what was asked (a label removed by the
        first of two sends, or by someone else since it was listed). ``edits_comment``: a 404
        is the comment deleted since it was listed, :class:`CommentGone`."""
        resend = resend or method != "POST"
        if (url.scheme, url.host, url.port) != (
            self.api_url.scheme,
            self.api_url.host,
            self.api_url.port,
        ):
            raise self.error(
                f"refusing to send the {self.platform} token to {url.host} while {what}",
                f"only the API host the CI names ({self.api_url.host}) gets the token",
            )
        if url.userinfo:  # httpx would send its user and password in place of the token
            raise self.error(
                f"refusing to follow a link carrying a user name or password while {what}",
                f"the {self.platform} API's links carry none: check the API URL and any proxy",
            )
        response = send(
            self._http,
            method,
            url,
            what=f"the {self.platform} API",
            headers=self.headers(),
            json=json,
            idempotent=resend,  # as safe to resend after a dropped connection as after a 504
            refused_is_throttle=self.refused_is_throttle,
        )
        if response.status_code == 504 and not resend:
            raise self.error(
                f"{self.platform} answered 504 (a gateway timeout) to POST while {what}: it may "
                "have been carried out all the same",
                _RUN_AGAIN,
            )
        if edits_comment and response.status_code == 404:
            raise CommentGone(
                f"{self.platform} answered 404 to {method} while {what}: the comment was "
                "deleted since it was listed",
                _RUN_AGAIN,
            )
        if not (gone_is_done and method == "DELETE" and response.status_code == 404):
            self.check(response, method, what)
        return response

    def request_json(
        self,
        method: str,
        url: httpx.URL,
        kind: type[JSON],
        *,
        what: str,
        json: Any = None,
        resend: bool = False,
        edits_comment: bool = False,
    ) -> JSON:
        """:meth:`request`, then :meth:`read` of its answer: a JSON object or list."""
        response = self.request(
            method, url, what=what, json=json, resend=resend, edits_comment=edits_comment
        )
        return self.read(response, kind, what)

    def follow(self, followed: set[str], page: str, what: str) -> None:
        """Note ``page`` (a next page's link or number) as followed; the platform's error when
        it was followed before (the paging loops) or the listing passes :data:`MAX_PAGES`: a
        job that paged for ever used up the token's rate limit until the CI's timeout."""
        if page in followed:
            raise self.unexpected(
                f"{self.platform} named a next page it had already named while {what} (after "
                f"{plural(len(followed), 'page')}): its paging loops"
            )
        if len(followed) >= MAX_PAGES:
            raise self.unexpected(
                f"{self.platform} kept paging past {MAX_PAGES:,} pages while {what}"
            )
        followed.add(page)

    def check(self, response: httpx.Response, method: str, what: str) -> None:
        """Raise the platform's error, with a hint, for a response that is not a success: an
        error status, a redirect (never followed: it would carry the token along), or a web
        page where JSON was due (a sign-in page or a proxy's)."""
        status = response.status_code
        if 300 <= status < 400:
            to = urlsplit(response.headers.get("Location", "")).hostname
            raise self.unexpected(
                f"{self.platform} answered {status} (a redirect"
                f"{f' to {sanitize.text(to)}' if to else ''}) to {method} while {what}: not "
                "followed, as it would carry the token along"
            )
        if status >= 400:
            raise self.failure(response, method, what)
        if "html" in response.headers.get("Content-Type", "").lower():
            raise self.unexpected(
                f"{self.platform} answered {response.status_code} with a web page instead of "
                f"JSON to {method} while {what}"
            )

    def read(self, response: httpx.Response, kind: type[JSON], what: str) -> JSON:
        """The JSON body of a success ``response``: an object (``kind`` is ``dict``) or a list.

        Anything else, such as a proxy's text or JSON of another shape, is the platform's error
        with a hint, not a traceback."""
        try:
            data = json_of(response)
        except ValueError:  # not JSON, or not text at all (UnicodeDecodeError)
            content_type = response.headers.get("Content-Type") or "no Content-Type"
            found = f"a body that is not JSON ({content_type})"
        else:
            if isinstance(data, kind):
                return data
            found = f"a JSON {_SHAPES[type(data)]} where a JSON {_SHAPES[kind]} was due"
        raise self.unexpected(
            f"{self.platform} answered {response.status_code} to {response.request.method} "
            f"while {what} with {found}"
        )

    def objects(self, items: object, what: str) -> list[dict[str, Any]]:
        """``items``, a list the platform answered while ``what``, each of them a JSON object;
        the platform's error when it is no list or one of them is no object."""
        if isinstance(items, list):
            strays = [item for item in items if not isinstance(item, dict)]
            if not strays:
                return items
            found, due = strays[0], "object"
        else:
            found, due = items, "list"
        raise self.unexpected(
            f"{self.platform}'s answer while {what} has a JSON {_SHAPES[type(found)]} where a "
            f"JSON {due} was due"
        )

    def listed(self, data: dict[str, Any], key: str, what: str) -> list[dict[str, Any]]:
        """The objects listed under ``key`` of an answer; the platform's error when it has no
        such key: read as an empty listing, a listing gone wrong would post a second comment."""
        if key not in data:
            raise self.unexpected(f"{self.platform}'s answer while {what} has no {key!r}")
        return self.objects(data[key], what)

    def integer(self, data: object, key: str, what: str) -> int:
        """The integer ``key`` (an id) of an object the platform answered while ``what``; the
        platform's error when ``data`` is no object or has no integer there."""
        value = member(data, key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise self.unexpected(f"{self.platform}'s answer while {what} has no integer {key!r}")

    def unexpected(self, message: str) -> ReviewError:
        """The platform's error for a success that is not what its API answers."""
        return self.error(
            message,
            f"check {self.api_variable}, the {self.platform} API URL the CI sets; a proxy, a "
            "sign-in page or another server may have answered instead of the API",
        )

    def failure(self, response: httpx.Response, method: str, what: str) -> ReviewError:
        raise NotImplementedError
