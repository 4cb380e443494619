"""The thread storage format: compressed JSON with a preset dictionary, tagged by version."""

import zlib
from datetime import UTC, datetime

import pytest

from bot.core.thread.events import ApprovalEscalated, MessageSent, UserMessage
from bot.core.thread.origin import SlackOrigin
from bot.core.thread.thread import Thread
from bot.shell.store.codec import _DICTIONARY_V1, decode_thread, encode_thread

AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _thread() -> Thread:
    return Thread(
        id="s0123456789ab",
        origin=SlackOrigin(channel="C0DEPLOYS", thread_ts="1700000001.000001"),
        created_at=AT,
        events=[
            UserMessage(id="e1", at=AT, actor="slack:U0CAROL", text="deploy backend to production"),
            MessageSent(id="m1", at=AT, text="Plan #ab12: ...", purpose="approval_request"),
            MessageSent(
                id="m2",
                at=AT,
                text="Plan #ab12: ...",
                purpose="approval_request",
                route="email:alice@example.com",
            ),
            ApprovalEscalated(id="x1", at=AT, plan_hash="ab12", to="slack:C0ONCALL"),
        ],
    )


def test_a_thread_round_trips_in_the_current_format() -> None:
    thread = _thread()
    stored = encode_thread(thread)
    assert stored[:2] == b"z2"
    assert decode_thread(stored, version=7) == thread.model_copy(update={"version": 7})


def test_threads_stored_in_the_first_format_still_decode() -> None:
    """Stored before messages had a route: the old dictionary still reads them."""
    thread = _thread()
    compressor = zlib.compressobj(6, zdict=_DICTIONARY_V1)
    blob = thread.model_dump_json(exclude={"version"}).encode()
    old = b"z1" + compressor.compress(blob) + compressor.flush()
    assert decode_thread(old, version=3) == thread.model_copy(update={"version": 3})


def test_an_unknown_format_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="unknown thread storage format b'z9'"):
        decode_thread(b"z9" + b"\x00", version=1)
