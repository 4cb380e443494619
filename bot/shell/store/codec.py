"""How a thread is stored: JSON, compressed with zlib and a preset dictionary.

A thread is mostly the same field names and event types over and over; a preset dictionary
written from our own schema lets zlib refer to them from the first byte, which shrinks a
paused thread by about 40% (a benchmark's paused thread: 697 bytes at ``_LEVEL``). The
dictionary is part of the storage format: stored values start with a format tag, and a
changed dictionary gets a new tag (keeping the old one here so stored threads still
decode). A thread stored before approval messages carried their card gets the cards on load
(``bot.core.wording.cards.with_cards``).

What is stored is read as recorded (``bot.core.thread.text.actor.RECORDED``: an actor older code
wrote loads even where an edge would refuse it now). Nothing is stored twice or empty: a
message without a card stores no ``card`` (loading still takes ``"card":null``), and a card
whose evidence is the evidence of its plan's newest proposal before it (always, unless the
plan was proposed again since) stores no ``evidence``: loading takes it from that proposal.
"""

import zlib
from typing import Any

from bot.core.thread.events import Event, MessageSent, PlanProposed
from bot.core.thread.plan import Evidence
from bot.core.thread.text.actor import RECORDED
from bot.core.thread.thread import Thread
from bot.core.wording.cards import with_cards

__all__ = ["decode_thread", "encode_thread"]

_EVENT = b'{"id":"","at":"2026-11-22T00:00:00.000000Z","type":"'

_DICTIONARY_V1 = b"".join(
    [
        b'{"id":"","origin":{"kind":"api","client":"api"},"agent":"deploy",',
        b'"created_at":"2026-11-22T00:00:00.000000Z","events":[',
        _EVENT,
        b'user_message","actor":"slack:","text":"deploy "},',
        _EVENT,
        b'tags_listed","service":"","tags":[{"name":"v1.","sha":"","subject":""},',
        b'{"name":"v1.","sha":"","subject":null}]},',
        _EVENT,
        b'history_listed","service":"","environment":"production","deploys":[',
        b'{"thread_id":"","kind":"deploy","version":"v1.","sha":"","requester":"",',
        b'"approvers":[""],"result":"succeeded","at":"2026-11-22T00:00:00.000000+00:00"}]},',
        _EVENT,
        b'intent_chosen","intent":{"intent":"deploy","service":"",',
        b'"environment":"production","version":null},"source":"model","model":"",',
        b'"input_tokens":0,"output_tokens":0},',
        _EVENT,
        b'plan_proposed","plan":{"kind":"deploy","service":"","environment":"production",',
        b'"version":"v1.","sha":"","subject":"","previous_version":"v1.","requester":""}},',
        _EVENT,
        b'approval_requested","plan_hash":"","approvers":["",""],"min_approvals":1,',
        b'"expires_at":"2026-11-22T00:00:00.000000Z"},',
        _EVENT,
        b'message_sent","text":"Plan #: ","purpose":"approval_request"}',
        b" needs 1 approval from: . Expires in 60 min.\\nReply 'approve' or 'reject <reason>'.",
        b'"type":"approval_decided","plan_hash":"","actor":"","person":"","decision":"approve",',
        b'"reason":null}',
        b'"type":"deploy_started","plan_hash":"","idempotency_key":"","fencing_token":',
        b'"type":"lock_changed","service":"","environment":"","action":"acquired","fencing_token":',
        b'"type":"deploy_finished","plan_hash":"","result":"succeeded","exit_code":0,',
        b'"duration_s":0.0,"output_tail":""',
        b'"type":"error_recorded","kind":"invalid_output","message":"","input_tokens":0,',
        b'"output_tokens":0}',
        b'"purpose":"result"}"purpose":"info"}"source":"grammar","model":null,',
    ]
)

# v2: messages carry ``route`` (the approval channel); spell a message's empty fields out.
_DICTIONARY_V2 = (
    _DICTIONARY_V1.replace(
        b'"purpose":"approval_request"}',
        b'"purpose":"approval_request","to":null,"replaces":null,"route":null}',
    )
    + b'"to":null,"replaces":null,"route":null}"purpose":"progress","to":null,"replaces":"'
)

# v3: an approval message's card (its evidence comes from the proposal, so not spelled here).
_DICTIONARY_V3 = _DICTIONARY_V2 + b"".join(
    [
        b',"card":{"plan":{"kind":"deploy","service":"","environment":"production",',
        b'"version":"v1.","sha":"","subject":"","previous_version":"v1.","requester":"",',
        b'"attempt":0,"previous_sha":null,"lineage":null},"plan_hash":"","approvers":["",""],',
        b'"min_approvals":1,"expires_at":"2026-11-22T00:00:00Z","approve_with":"approve",',
        b'"reject_with":"reject"}}',
        b'"evidence":{"live_version":"v1.","requester":"","commits_total":1,"commits":[',
        b'{"sha":"","subject":"","author":""}],"compare_url":null,"ci_state":"success",',
        b'"ci_url":null,"note":null}}',
    ]
)

_FORMATS = {b"z1": _DICTIONARY_V1, b"z2": _DICTIONARY_V2, b"z3": _DICTIONARY_V3}
_CURRENT = b"z3"


#: zlib's fastest level. Every save compresses the whole thread, and at level 6 that was
#: 5% of a worker's CPU (py-spy, bench/threads.py); level 1 takes about half the time for
#: 15% more bytes (the paused thread of tests/unit/core/thread/dumps: 601 -> 697 B). The
#: level is not part of the format: threads written at any level decode alike.
_LEVEL = 1


def encode_thread(thread: Thread) -> bytes:
    compressor = zlib.compressobj(_LEVEL, zdict=_FORMATS[_CURRENT])
    blob = thread.model_dump_json(exclude=_not_stored(thread.events)).encode()
    return _CURRENT + compressor.compress(blob) + compressor.flush()


def decode_thread(stored: bytes, *, version: int) -> Thread:
    tag, blob = stored[:2], stored[2:]
    if tag not in _FORMATS:
        raise ValueError(f"unknown thread storage format {tag!r}")
    decompressor = zlib.decompressobj(zdict=_FORMATS[tag])
    thread = Thread.model_validate_json(
        decompressor.decompress(blob) + decompressor.flush(), context=RECORDED
    )
    thread.version = version
    thread.events = _with_evidence(thread.events)
    return with_cards(thread)  # stored before messages carried their approval card


def _not_stored(events: list[Event]) -> dict[str, Any]:
    """What ``encode_thread`` leaves out: the version (the store keeps it beside), a
    message's empty card, and a card's evidence where its plan's proposal holds the same."""
    left_out: dict[int, Any] = {}
    proposed: dict[str, Evidence | None] = {}  # plan hash -> its newest proposal's evidence
    for i, event in enumerate(events):
        if isinstance(event, PlanProposed):
            proposed[event.plan.plan_hash] = event.evidence
        elif isinstance(event, MessageSent):
            card = event.card
            if card is None:
                left_out[i] = {"card"}
            elif card.plan_hash in proposed and proposed[card.plan_hash] == card.evidence:
                left_out[i] = {"card": {"evidence"}}
    return {"version": True, "events": left_out}


def _with_evidence(events: list[Event]) -> list[Event]:
    """``events`` as loaded, each card stored without its evidence given its proposal's."""
    out: list[Event] = []
    proposed: dict[str, Evidence | None] = {}
    for event in events:
        if isinstance(event, PlanProposed):
            proposed[event.plan.plan_hash] = event.evidence
        elif isinstance(event, MessageSent) and event.card is not None:
            card = event.card
            if "evidence" not in card.model_fields_set and card.plan_hash in proposed:
                card = card.model_copy(update={"evidence": proposed[card.plan_hash]})
                event = event.model_copy(update={"card": card})
        out.append(event)
    return out
