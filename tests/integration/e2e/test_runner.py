"""The sandbox runner leaves nothing behind: every server loop it started has stopped."""

from __future__ import annotations

import threading

from entrasync.sandbox.runner import running_sandbox
from entrasync.sandbox.scim_server import ScimSandbox


def _serving_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.is_alive() and t is not threading.main_thread()]


def test_running_sandbox_stops_every_server_loop_it_started() -> None:
    before = set(_serving_threads())
    with running_sandbox() as sandbox:
        assert sandbox.graph.base_url.startswith("https://127.0.0.1:")
    left = [t for t in _serving_threads() if t not in before]
    assert left == []


def test_starting_a_scim_sandbox_twice_serves_one_loop() -> None:
    sandbox = ScimSandbox("token").start()
    with sandbox:  # __enter__ starts it again: must not add a second serve_forever loop
        loops = [t for t in threading.enumerate() if t.name == "scim-sandbox"]
        assert len(loops) == 1
    assert not [t for t in threading.enumerate() if t.name == "scim-sandbox"]
