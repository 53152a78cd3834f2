"""The job summary of an apply: its counts, and the changes that did not succeed."""

from __future__ import annotations

from entrasync.core.audit_record import tally
from entrasync.core.plan import Access, Action, Change
from entrasync.render.apply_report import applied_lines

CHANGE = Change(
    action=Action.UPDATE,
    user="ann@contoso.com",
    entra_id="id-ann",
    display_name="Ann",
    email="ann@contoso.com",
    before=Access("member", None, True),
    after=Access("admin", None, True),
    groups=("NT-Admins",),
    decided_by="NT-Admins",
    reason="role differs (member -> admin)",
    target_id="scim-ann",
)


def test_the_counts_read_as_everywhere_else() -> None:
    counts = {"succeeded": 3, "failed": 1, "skipped": 0}
    assert tally(counts) == "3 succeeded, 1 failed, 0 skipped"
    assert (
        applied_lines("ab" * 32, counts, [])[0]
        == "Plan `abababababab`: 3 succeeded, 1 failed, 0 skipped."
    )


def test_an_error_holding_a_pipe_is_escaped_once() -> None:
    lines = applied_lines("ab" * 32, {"failed": 1}, [(CHANGE, "failed", "HTTP 400 | bad value")])
    assert lines[-1] == "| update | ann@&#8203;contoso.com | failed | HTTP 400 \\| bad value |"
