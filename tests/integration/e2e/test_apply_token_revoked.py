"""A SCIM token revoked while `entrasync apply` writes: the rest is not attempted, and the
final hint says to make a new token, not only "fix the cause"."""

from __future__ import annotations

from entrasync.adapters.scim.answers import TOKEN_HINT
from tests.integration.e2e.apply_runs import TOKEN, World, change_records, finish, wait_until


def test_a_token_revoked_mid_apply_ends_with_the_new_token_hint(world: World) -> None:
    proc = world.start()
    wait_until(lambda: world.scim.counters.writes >= 1, proc, "the first write")
    # Revoked, a new one made in NeuralTrust: every request with the old one is now 401.
    world.scim.app.bearer_tokens = {"fake-regenerated-scim-token-for-tests"}
    done = finish(proc)

    assert done.code == 1, done.err
    assert "Traceback" not in done.err
    changes = change_records(world.audit_records())
    assert {r["outcome"] for r in changes} >= {"failed", "skipped"}
    assert any(r["http_status"] == 401 for r in changes)
    [hint] = [line for line in done.err.splitlines() if line.startswith("hint: ")]
    assert hint.startswith(f"hint: {TOKEN_HINT}; then run `entrasync plan`")
    assert TOKEN not in done.out + done.err
