"""One apply at a time per audit folder (docs/safety.md), with two real processes."""

from __future__ import annotations

import signal
import socket
import time

from tests.integration.e2e.apply_runs import MANY, World, finish, wait_until


def test_a_second_apply_exits_at_once_naming_the_running_one_and_runs_once_it_ends(
    world: World,
) -> None:
    first = world.start()
    wait_until(lambda: world.scim.counters.writes >= 1, first, "the first apply writes")
    other = world.make_scim()  # the second apply's NeuralTrust: it must not even be read

    began = time.monotonic()
    second = finish(world.start(scim=other))
    took = time.monotonic() - began

    assert second.code == 1, second.err
    assert "Traceback" not in second.err
    assert (
        f"error: another entrasync apply is running with the audit folder {world.audit_dir} "
        f"(pid {first.pid} on {socket.gethostname()} since 20"
    ) in second.err
    assert other.counters.requests == 0
    assert took < 10  # at once: no read of Entra or NeuralTrust, no wait for the first
    assert finish(first).code == 0
    assert len(list(world.audit_dir.glob("*.jsonl"))) == 1  # the second left no audit file

    again = finish(world.start(scim=other))
    assert again.code == 0, again.err
    assert other.counters.writes == MANY


def test_an_apply_killed_outright_leaves_no_lock_behind(world: World) -> None:
    first = world.start()
    wait_until(lambda: world.scim.counters.writes >= 1, first, "the first apply writes")
    first.send_signal(signal.SIGKILL)  # no handler runs: the kernel releases the lock
    assert finish(first).code == -signal.SIGKILL

    second = finish(world.start(scim=world.make_scim()))

    assert second.code == 0, second.err
