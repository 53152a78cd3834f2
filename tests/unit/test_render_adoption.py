"""The renderers' adoption marker follows the change's flag, never the wording of its reason."""

from __future__ import annotations

from dataclasses import replace

from entrasync.core.items import ADOPT
from entrasync.core.plan import Access, Action, Change
from entrasync.render.common import is_adoption

ACCESS = Access("member", None, True)
UPDATE = Change(Action.UPDATE, "a@contoso.com", "id-a", None, None, ACCESS, ACCESS, (), None, "")


def test_a_reason_that_mentions_adoption_does_not_make_one() -> None:
    assert not is_adoption(replace(UPDATE, reason=f"{ADOPT}, externalId"))


def test_the_flag_makes_one_whatever_the_reason_says() -> None:
    assert is_adoption(replace(UPDATE, after=replace(ACCESS, role="admin"), adopts=True))
