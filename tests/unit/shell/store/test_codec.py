"""The thread storage format: compressed JSON with a preset dictionary, tagged by version."""

import json
import zlib
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.core.thread.approval_card import ApprovalCard
from bot.core.thread.events import ApprovalEscalated, MessageSent, PlanProposed, UserMessage
from bot.core.thread.origin import SlackOrigin
from bot.core.thread.plan import CommitInfo, Evidence, Plan
from bot.core.thread.thread import Thread
from bot.shell.store.codec import (
    _DICTIONARY_V1,
    _DICTIONARY_V2,
    _DICTIONARY_V3,
    decode_thread,
    encode_thread,
)

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
    assert stored[:2] == b"z3"
    assert decode_thread(stored, version=7) == thread.model_copy(update={"version": 7})


@pytest.mark.parametrize(("tag", "dictionary"), [(b"z1", _DICTIONARY_V1), (b"z2", _DICTIONARY_V2)])
def test_threads_stored_in_an_older_format_still_decode(tag: bytes, dictionary: bytes) -> None:
    """z1: before messages had a route; z2: before cards (every message spelled
    ``"card":null``). Each old dictionary still reads what was written with it."""
    thread = _thread()
    compressor = zlib.compressobj(6, zdict=dictionary)
    blob = thread.model_dump_json(exclude={"version"}).encode()
    assert b'"card":null' in blob
    old = tag + compressor.compress(blob) + compressor.flush()
    assert decode_thread(old, version=3) == thread.model_copy(update={"version": 3})


def test_an_unknown_format_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="unknown thread storage format b'z9'"):
        decode_thread(b"z9" + b"\x00", version=1)


def stored_json(thread: Thread) -> dict[str, Any]:
    stored = encode_thread(thread)
    decompressor = zlib.decompressobj(zdict=_DICTIONARY_V3)
    loaded: dict[str, Any] = json.loads(decompressor.decompress(stored[2:]))
    return loaded


PLAN = Plan(
    kind="deploy",
    service="backend",
    environment="production",
    version="v1.4.2",
    sha="ab" * 20,
    previous_version="v1.4.1",
    requester="carol",
)
EVIDENCE = Evidence(
    live_version="v1.4.1",
    requester="carol",
    commits_total=1,
    commits=[CommitInfo(sha="ab" * 20, subject="fix login timeout", author="dana")],
    ci_state="success",
)
LATER = EVIDENCE.model_copy(update={"ci_state": "failure"})


def card(evidence: Evidence | None) -> ApprovalCard:
    return ApprovalCard(
        plan=PLAN,
        plan_hash=PLAN.plan_hash,
        approvers=["alice"],
        min_approvals=1,
        expires_at=AT,
        evidence=evidence,
    )


def asked(message_id: str, evidence: Evidence | None, **fields: Any) -> MessageSent:
    return MessageSent(id=message_id, at=AT, text="Plan", card=card(evidence), **fields)


def test_a_message_without_a_card_stores_none_and_a_card_stores_no_copy_of_its_evidence() -> None:
    thread = _thread().model_copy(
        update={
            "events": [
                PlanProposed(id="p1", at=AT, plan=PLAN, evidence=EVIDENCE),
                asked("m1", EVIDENCE, purpose="approval_request"),
                asked("m2", EVIDENCE, purpose="result", replaces="m1"),  # the closing copy
                MessageSent(id="m3", at=AT, text="Deployed."),
            ]
        }
    )
    events = stored_json(thread)["events"]
    assert events[0]["evidence"]["commits"][0]["subject"] == "fix login timeout"  # once
    assert [("evidence" in e["card"]) for e in events[1:3]] == [False, False]
    assert events[1]["card"]["plan_hash"] == PLAN.plan_hash
    assert "card" not in events[3]
    loaded = decode_thread(encode_thread(thread), version=2)
    assert loaded == thread.model_copy(update={"version": 2})
    assert [m.card.evidence for m in loaded.events[1:3]] == [EVIDENCE, EVIDENCE]  # type: ignore[union-attr]


def test_a_card_whose_evidence_is_not_its_proposals_stores_its_own() -> None:
    """Proposed again with other evidence after it asked: the card keeps what it showed; a
    card that showed no evidence stays without."""
    thread = _thread().model_copy(
        update={
            "events": [
                PlanProposed(id="p1", at=AT, plan=PLAN, evidence=EVIDENCE),
                asked("m1", None, purpose="approval_request"),
                PlanProposed(id="p2", at=AT, plan=PLAN, evidence=LATER),
                asked("m2", EVIDENCE, purpose="result", replaces="m1"),
                asked("m3", LATER, purpose="approval_request"),
            ]
        }
    )
    events = stored_json(thread)["events"]
    assert events[1]["card"]["evidence"] is None
    assert events[3]["card"]["evidence"]["ci_state"] == "success"
    assert "evidence" not in events[4]["card"]
    loaded = decode_thread(encode_thread(thread), version=2)
    assert loaded == thread.model_copy(update={"version": 2})
    assert [e.card.evidence for e in loaded.events if isinstance(e, MessageSent)] == [  # type: ignore[union-attr]
        None,
        EVIDENCE,
        LATER,
    ]
