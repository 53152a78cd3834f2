"""One interface for the review platform: the sticky plan comment, the labels, the merged request.

``plan --comment`` and ``report-apply`` talk to GitHub, GitLab or Azure DevOps through
:class:`ReviewPlatform`; :func:`entrasync.adapters.review.detect.detect` picks the one the CI
names (docs/review-platforms.md). Each implementation uses its platform's documented REST API,
sends its token only to the API host the CI names, and edits only the tool's own comment: the
oldest one that starts with the marker *and* whose author is the token's own identity.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

from entrasync.core import sanitize
from entrasync.core.labels import is_ours
from entrasync.errors import EntrasyncError, ReviewError
from entrasync.render.truncate import CHARACTERS, Measure

Item = TypeVar("Item")


class ReviewPlatform(Protocol):
    """What entrasync needs of a review platform; one instance per command run."""

    name: str  # "GitHub", "GitLab", "Azure DevOps": for messages
    comment_limit: int  # the longest comment the platform accepts
    comment_measure: Measure  # what the limit counts: code points, or UTF-16 units
    full_plan_hint: str  # where the full plan is when the comment is cut

    def request_number(self) -> int:
        """The pull or merge request this pipeline runs for (from the CI's variables)."""
        ...

    def commit_sha(self) -> str:
        """The commit this pipeline runs on, or "" when the CI names none."""
        ...

    def planned_commit(self) -> str:
        """The request's head commit this pipeline planned, from the CI ("" when unsaid)."""
        ...

    def request_head(self, number: int) -> str:
        """Request ``number``'s head commit now, from the platform ("" when it says none)."""
        ...

    def run_url(self) -> str | None:
        """The web page of this pipeline run, when the CI's variables tell it."""
        ...

    def run_id(self) -> str:
        """This job attempt's id, in the CI's digits ("" when unknown): a re-run of the job is
        another attempt, which applies again, so its report is its own."""
        ...

    def upsert_comment(self, number: int, body: str, marker: str) -> str:
        """Edit the tool's own comment carrying ``marker`` on request ``number``, or post a new
        one; return its web address."""
        ...

    def plan_comment(self, number: int, marker: str) -> str | None:
        """The body of the tool's own comment carrying ``marker`` on request ``number`` (the
        oldest, the one kept), or None when there is none."""
        ...

    def set_labels(self, number: int, wanted: frozenset[str]) -> None:
        """Make the entrasync labels of request ``number`` exactly ``wanted``; a label a plan
        never sets is never touched."""
        ...

    def merged_request_for(self, sha: str) -> int | None:
        """The merged pull or merge request that brought commit ``sha``, or None."""
        ...

    def close(self) -> None: ...


def label_changes(current: Iterable[str], wanted: frozenset[str]) -> tuple[list[str], list[str]]:
    """The labels to add and the labels to remove so that the entrasync labels of a request
    become ``wanted``; a label a plan never sets is never among those removed."""
    if not all(is_ours(label) for label in wanted):
        raise ValueError(f"not an entrasync label among {sorted(wanted)}")
    have = list(dict.fromkeys(current))
    held = {label.casefold() for label in have}
    keep = {label.casefold() for label in wanted}
    add = sorted(label for label in wanted if label.casefold() not in held)
    return add, [label for label in sorted(have) if is_ours(label) and label.casefold() not in keep]


def relabel(
    current: Iterable[str],
    wanted: frozenset[str],
    remove: Callable[[list[str]], object],
    add: Callable[[list[str]], object],
) -> None:
    """Make a request's entrasync labels ``wanted`` through a platform's ``remove`` and ``add``
    (each given a list, never an empty one). The stale labels go first: an addition refused
    after them (a token that may not create labels) leaves none that contradicts the comment,
    no ``entrasync: no changes`` beside a plan that deactivates, and the earned ones stay."""
    to_add, to_remove = label_changes(current, wanted)
    if to_remove:
        remove(to_remove)
    if to_add:
        add(to_add)


def all_own(
    items: Iterable[Item],
    marker: str,
    body: Callable[[Item], str],
    ours: Callable[[], Callable[[Item], bool]],
) -> list[Item]:
    """Those of ``items`` whose body starts with ``marker`` and that are the tool's own.

    ``ours()`` gives the test of an item's author; it may ask the platform who the token is, so
    it is called only when some item carries the marker. A person's comment that quotes or
    copies the marker is never taken for the tool's own.
    """
    marked = [i for i in items if body(i).startswith(marker)]
    if not marked:
        return []  # no need to ask who we are
    own = ours()
    return [i for i in marked if own(i)]


class CommentGone(ReviewError):
    """An edit of a comment answered 404: deleted since it was listed."""


# What a duplicate of the tool's comment is edited to: no marker, so no run finds it again.
SUPERSEDED = (
    "Superseded: entrasync posted this comment twice (two runs at the same time, or a post the "
    "platform answered with an error yet carried out all the same). The earlier entrasync "
    "comment is the one kept up to date."
)


def keep_one(
    own: Callable[[], list[Item]],
    edit: Callable[[Item, str], str],
    post: Callable[[str], tuple[Item, str]],
    key: Callable[[Item], object],
    body: str,
) -> str:
    """Make ``body`` the one comment of the tool's that ``own()`` lists (oldest first): edit
    the oldest, or post one when there is none (or the oldest was deleted since it was
    listed: its edit raises :class:`CommentGone`); return its web address.

    Two runs that list at once both find none and both post. So a run that posted lists again,
    and every own comment but the oldest (found now, or by any later run) is edited to
    :data:`SUPERSEDED`: each run ends with one comment that carries the marker. Once the comment
    kept shows ``body``, nothing after fails the call (the second listing, the edits of the
    others, refused or unanswered): the pull request shows the plan, and the next run looks
    again. The edit of a racing run's older comment, the one kept, is no such afterthought.
    """
    found = own()
    if found:
        try:
            url = edit(found[0], body)
        except CommentGone:  # deleted since it was listed: the plan is posted anew
            pass
        else:
            return _supersede(found[1:], edit, url)
    posted, url = post(body)
    try:
        found = own() or [posted]  # a run racing this one may have posted as well
    except EntrasyncError:  # posted all the same: the next run finds any duplicate
        return url
    if key(found[0]) != key(posted):
        # The one kept shows the racing run's plan until this edit: it must succeed.
        url = edit(found[0], body)
    return _supersede(found[1:], edit, url)


def _supersede(duplicates: list[Item], edit: Callable[[Item, str], str], url: str) -> str:
    """Edit ``duplicates`` to :data:`SUPERSEDED`, as far as the platform lets; ``url``."""
    try:
        for duplicate in duplicates:
            edit(duplicate, SUPERSEDED)
    except EntrasyncError:
        pass  # the plan is shown; the next run edits what is left
    return url


def item_id(item: dict[str, Any]) -> object:
    """A comment's, note's or thread's ``id``, as the platform's JSON gives it."""
    return item.get("id")


def ensure_marker(body: str, marker: str) -> str:
    return body if marker in body else f"{marker}\n{body}"


def path_part(value: str, variable: str) -> str:
    """``value`` from a CI variable, refused where it would not stay the one path segment it
    is sent as (``.`` or ``..``, which the URL resolves away): `CI_PROJECT_ID=..` addressed
    another resource."""
    if value in (".", ".."):
        raise ReviewError(
            f"{variable} is {value!r}, which is no name",
            f"{variable} is set by the CI itself; check the job's variables",
        )
    return value


_COMMIT = re.compile(r"[0-9a-fA-F]{7,64}")


def commit_id(value: str, source: str) -> str:
    """``value``, a commit id as git writes it (hex), else an error naming ``source``."""
    if not _COMMIT.fullmatch(value):
        raise ReviewError(
            f"{source} {sanitize.text(value[:80])!r} is not a commit id",
            "give the merge commit's id as git shows it (40 hexadecimal characters)",
        )
    return value


def text_of(value: Any) -> str:
    """A JSON field that should be a string, as one ("" for null or anything else)."""
    return value if isinstance(value, str) else ""


def member(value: Any, key: str) -> Any:
    """``value[key]`` when ``value`` is a JSON object, else None: an author or a user that is
    not an object is nobody's."""
    return value.get(key) if isinstance(value, dict) else None


def check_length(body: str, limit: int, platform: str, measure: Measure = CHARACTERS) -> None:
    """Refuse, before any request, a body the platform would refuse for its length."""
    size = measure.size(body)
    if size > limit:
        raise ReviewError(
            f"the comment has {size:,} {measure.unit}; {platform} accepts at most {limit:,}",
            "this is a bug in the renderer's size limit: please report it",
        )
