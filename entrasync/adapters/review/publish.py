"""``plan --comment``: the plan as the sticky comment, and the labels it earns."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from entrasync.adapters.review import ReviewPlatform
from entrasync.adapters.review.detect import detect
from entrasync.core.labels import plan_labels
from entrasync.core.plan import Plan
from entrasync.errors import EntrasyncError, error_lines
from entrasync.render.markdown import comment_marker, render_failure, render_markdown


@dataclass(frozen=True)
class Published:
    """What was posted; or, when the request's head moved past the commit this run planned,
    nothing, and ``superseded`` says the two commits (planned, head now)."""

    url: str
    labels: frozenset[str]
    superseded: tuple[str, str] | None = None

    def said(self) -> str:
        """Where the comment is, or why there is none."""
        if self.superseded is None:
            return self.url
        planned, head = self.superseded
        return (
            f"not posted: this run planned commit {planned[:12]}, and the request's head is now "
            f"{head[:12]}, whose own run posts its plan: this run left the comment and the "
            "labels as they were"
        )


def publish_plan(
    plan: Plan,
    *,
    config_path: str,
    owner_roles: frozenset[str],
    environ: Mapping[str, str],
    settings_compared: bool = True,
    posted: Callable[[str], None] | None = None,
) -> Published:
    """Post or edit the plan comment of ``config_path``, then set the labels the plan earns
    (:func:`entrasync.core.labels.plan_labels`).

    The comment comes first: reviewers see the plan even when labelling is refused.
    ``posted`` is told the comment's URL once the pull request shows the plan, before the
    labels are set (which may fail)."""

    def body(review: ReviewPlatform) -> str:
        return render_markdown(
            plan,
            config_path=config_path,
            max_chars=review.comment_limit,
            measure=review.comment_measure,
            full_plan_hint=review.full_plan_hint,
        )

    labels = plan_labels(plan, owner_roles, settings_compared=settings_compared)
    return _publish(body, labels, config_path, environ, posted)


def publish_failure(
    error: EntrasyncError, *, config_path: str, environ: Mapping[str, str]
) -> Published:
    """Put what stopped ``plan`` in the comment of ``config_path``, in place of an earlier
    push's plan, and remove the labels a plan sets: no plan stands for this push."""

    def body(review: ReviewPlatform) -> str:
        return render_failure(error_lines(error), config_path=config_path, run_url=review.run_url())

    return _publish(body, frozenset(), config_path, environ)


def _publish(
    body: Callable[[ReviewPlatform], str],
    labels: frozenset[str],
    config_path: str,
    environ: Mapping[str, str],
    posted: Callable[[str], None] | None = None,
) -> Published:
    review = detect(environ)
    try:
        number = review.request_number()
        planned = review.planned_commit()
        head = review.request_head(number) if planned else ""
        if head and head.lower() != planned.lower():
            return Published("", frozenset(), (planned, head))
        url = review.upsert_comment(number, body(review), comment_marker(config_path))
        if posted is not None:
            posted(url)
        # Stale labels go first: one refused on the way leaves none that contradicts the
        # comment ("no changes" beside a plan that deactivates), and earned ones stay.
        review.set_labels(number, labels)
    finally:
        review.close()
    return Published(url, labels)
