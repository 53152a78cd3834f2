"""``plan --comment``: the plan as the sticky comment, and the labels it earns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from entrasync.adapters.review.detect import detect
from entrasync.core.labels import plan_labels
from entrasync.core.plan import Plan
from entrasync.render.markdown import comment_marker, render_markdown


@dataclass(frozen=True)
class Published:
    url: str
    labels: frozenset[str]


def publish_plan(
    plan: Plan,
    *,
    config_path: str,
    owner_role: str,
    environ: Mapping[str, str],
) -> Published:
    """Post or edit the plan comment of ``config_path``, then set the labels the plan earns.

    The comment comes first: reviewers see the plan even when labelling is refused."""
    review = detect(environ)
    try:
        number = review.request_number()
        body = render_markdown(
            plan,
            config_path=config_path,
            max_chars=review.comment_limit,
            full_plan_hint=review.full_plan_hint,
        )
        url = review.upsert_comment(number, body, comment_marker(config_path))
        labels = plan_labels(plan, owner_role)
        review.set_labels(number, labels)
    finally:
        review.close()
    return Published(url, labels)
