"""The GitHub Actions files entrasync reads: the event payload."""

from __future__ import annotations

import pytest

from entrasync.adapters.github.actions import pull_request_number
from entrasync.errors import GitHubError


def test_an_event_payload_that_is_not_there_is_said_plainly() -> None:
    """It said "[Errno 2] No such file or directory: '/nonexistent/event.json'"."""
    with pytest.raises(GitHubError) as caught:
        pull_request_number("/nonexistent/event.json")
    assert caught.value.message == (
        "cannot read the event payload /nonexistent/event.json: No such file or directory"
    )
