"""Which outbox entries tell of a change the App Home may show (pure)."""

import json

import pytest

from bot.shell.home.board_changes import is_change


def entry(**message: object) -> dict[bytes, bytes]:
    return {b"m": json.dumps(message).encode()}


@pytest.mark.parametrize(
    ("fields", "changed"),
    [
        (entry(thread_id="t1", purpose="approval_request", text="Plan #ab12 ..."), True),
        (entry(thread_id="t1", purpose="result", text="backend v1.4.2 is live"), True),
        (entry(thread_id="t1", purpose="info", text="staging is locked by alice"), True),
        (entry(thread_id="t1", purpose="progress", text="deploying... 00:05"), False),
        ({b"m": b"{not json"}, True),  # its deliverer may read it: refresh once more
        ({b"other": b"x"}, False),
    ],
)
def test_a_deploys_progress_is_no_change(fields: dict[bytes, bytes], changed: bool) -> None:
    assert is_change(fields) == changed
