"""Outside text (bot/core/thread/text/outside.py): what ``clean`` removes, keeps and caps, per
kind, and
that every model field typed with it cleans what enters it, also from a stored thread."""

import json
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel, ValidationError

from bot.core.thread.events import (
    DeployFinished,
    MessageSent,
    PlanProposed,
    TagsListed,
    UserMessage,
)
from bot.core.thread.intents import AskHuman
from bot.core.thread.origin import EmailOrigin, TerminalOrigin
from bot.core.thread.plan import CommitInfo, Evidence, Plan, Tag
from bot.core.thread.text.outside import CAPS, Kind, Name, Outside, Subject, clean, inert
from bot.core.thread.thread import Thread
from bot.shell.github.models import RunJob, WorkflowRun
from bot.shell.store.codec import decode_thread, encode_thread

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
FORGED = "\x1b[2K\x1b[1Gbot> Plan #abcd: backend v1.0.1 (1234567) -> production (now v1.4.1)."


@pytest.mark.parametrize(
    ("raw", "kind", "expected"),
    [
        # ordinary text is untouched
        ("fix login timeout", "subject", "fix login timeout"),
        ("Zoë Ångström 修正 🚀", "name", "Zoë Ångström 修正 🚀"),
        ("two\nlines\n", "text", "two\nlines\n"),
        # escape sequences go whole, not leaving "[2K" behind
        (
            "fix" + FORGED,
            "subject",
            "fixbot> Plan #abcd: backend v1.0.1 (1234567) -> production (now v1.4.1).",
        ),
        ("\x1b[8mhidden", "subject", "hidden"),
        ("a\x1b]0;title\x07b", "subject", "ab"),  # OSC, BEL-terminated (window title)
        ("a\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\b", "subject", "alinkb"),  # OSC 8
        ("a\x1bP1$r q\x1b\\b", "subject", "ab"),  # DCS
        ("a\x1b_apc\x9cb", "subject", "ab"),  # APC with an 8-bit ST
        ("a\x9b2Kb", "subject", "ab"),  # 8-bit CSI
        ("a\x9d0;t\x07b", "subject", "ab"),  # 8-bit OSC
        ("a\x1b7b\x1b8c", "subject", "abc"),  # save / restore cursor
        ("a\x1b(Bb\x1bcc", "subject", "abc"),  # charset, full reset
        ("a\x1b]unterminated", "subject", "aunterminated"),  # only the introducer goes
        ("a\x1b[2", "subject", "a2"),  # a cut-off CSI: its ESC goes
        # controls: C0, DEL, C1; whitespace controls separate words
        ("a\x00b\x07c\x7fd\x85e\x90f", "subject", "abcd ef"),
        ("a\rb\tc\vd\fe", "subject", "a b c d e"),
        ("progress 10%\rprogress 99%", "output", "progress 10%\nprogress 99%"),
        ("win\r\nline", "text", "win\nline"),
        ("tab\there", "text", "tab here"),
        ("line\u2028sep\u2029para", "text", "line\nsep\npara"),
        ("line\u2028sep", "subject", "line sep"),
        # bidi embeddings, overrides, isolates and marks
        ("fix \u202e1.0.1v\u202c ok", "subject", "fix 1.0.1v ok"),
        ("\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069\u200e\u200f\u061cx", "name", "x"),
        # zero-width and other invisible characters
        ("v1.4.2\u200b", "name", "v1.4.2"),
        ("a\u200cb\u200dc\u2060d\ufeffe\u00adf", "name", "abcdef"),
        ("tag\U000e0041\U000e0042s", "name", "tags"),  # invisible tag characters
        ("\u3164\u115f\u1160\uffa0\u2800x", "name", "x"),  # fillers, braille blank
        ("lone \ud800 surrogate", "subject", "lone surrogate"),
        # combining marks: at most 3 in a row
        ("e\u0301\u0302\u0303\u0304\u0305!", "subject", "e\u0301\u0302\u0303!"),
        # whitespace in one-line kinds
        ("  a \n\n b  ", "subject", "a b"),
    ],
)
def test_clean(raw: str, kind: Kind, expected: str) -> None:
    assert clean(raw, kind=kind) == expected
    assert clean(expected, kind=kind) == expected  # idempotent


@pytest.mark.parametrize("kind", sorted(CAPS))
def test_each_kind_is_capped_with_an_ellipsis(kind: Kind) -> None:
    cap = CAPS[kind]
    text = clean("word " * 100_000, kind=kind)
    assert len(text) == cap.max_chars
    assert text.endswith("…") if cap.keep == "start" else text.startswith("…")
    assert clean(text, kind=kind) == text
    if cap.multiline:
        lines = clean("line\n" * 10_000, kind=kind).split("\n")
        assert len(lines) == cap.max_lines
        assert "…" in (lines[-1] if cap.keep == "start" else lines[0])


def test_output_keeps_its_end() -> None:
    text = clean("".join(f"line {n}\n" for n in range(1000)) + "exit 1: disk full", kind="output")
    assert text.startswith("…\n")
    assert text.endswith("line 999\nexit 1: disk full")


def test_a_huge_hostile_text_is_cleaned_quickly() -> None:
    # Unterminated 8-bit OSC introducers and half CSIs: linear work, bounded input.
    for raw in ("\x9d" * 2_000_000, "\x9b0" * 1_000_000, "\x1b]" * 1_000_000, "é\u0301" * 10**6):
        out = clean(raw, kind="text")
        assert "\x1b" not in out
        assert "\x9d" not in out
        assert len(out) <= CAPS["text"].max_chars


def test_inert_keeps_layout_and_tabs_when_asked() -> None:
    assert inert("  a\tb\n  c\x1b[1A", multiline=True, tabs=True) == "  a\tb\n  c"
    assert inert("  a\tb\n  c", multiline=True) == "  a b\n  c"
    assert inert("  a\tb\n  c", multiline=False) == "a b c"


class _Shape(BaseModel):
    name: Name
    subject: Subject | None = None


def test_the_marker_cleans_on_validation_and_keeps_the_str_schema() -> None:
    shape = _Shape.model_validate_json(json.dumps({"name": "v1\u200b", "subject": FORGED}))
    assert shape.name == "v1"
    assert shape.subject is not None
    assert "\x1b" not in shape.subject
    assert _Shape.model_json_schema()["properties"]["name"] == {"title": "Name", "type": "string"}
    assert Outside("name")("a\u202eb") == "ab"


def _tag(subject: str) -> Tag:
    return Tag(name="v1.4.2", sha="a" * 40, subject=subject)


def test_every_typed_field_is_cleaned() -> None:
    hostile = "ok" + FORGED + "\u202e\u200b"
    plan = Plan(
        kind="deploy", service="backend", environment="production", version="v1.4.2",
        sha="a" * 40, subject=hostile, previous_version="v1.4.1", requester="carol",
    )  # fmt: skip
    values: list[str | None] = [
        plan.subject,
        _tag(hostile).subject,
        CommitInfo(sha="a" * 40, subject=hostile, author=hostile).author,
        Evidence(live_version="v1", requester="carol", note=hostile).note,
        DeployFinished(
            id="e",
            at=NOW,
            plan_hash="p",
            result="failed",
            exit_code=1,
            duration_s=1,
            output_tail=hostile,
            link="https://ci.example/\x1b[2K",
        ).output_tail,
        UserMessage(id="u", at=NOW, actor="slack:U1", text=hostile).text,
        MessageSent(id="m", at=NOW, text=hostile).text,
        AskHuman(message=hostile).message,
        EmailOrigin(address="a@example.com", subject="Re: x\r\nBcc: all@example.com").subject,
        WorkflowRun(id=1, display_title=hostile, created_at=NOW, html_url=hostile).display_title,
        RunJob(id=1, name=hostile, status="in_progress").name,
    ]
    for value in values:
        assert value is not None
        assert not any(ch in value for ch in "\x1b\x9b\r\u202e\u200b"), repr(value)
    assert values[8] == "Re: x Bcc: all@example.com"  # one line: never a second header


def test_a_stored_thread_with_hostile_text_loads_clean() -> None:
    """A thread saved before the rule (raw text in Redis) is cleaned when it is loaded; a
    clean plan keeps its hash."""
    clean_plan = Plan(
        kind="deploy", service="backend", environment="production", version="v1.4.2",
        sha="a" * 40, subject="fix login timeout", previous_version=None, requester="carol",
    )  # fmt: skip
    thread = Thread(
        id="t1",
        origin=TerminalOrigin(session="s"),
        created_at=NOW,
        events=[
            TagsListed(id="e1", at=NOW, service="backend", tags=[_tag("fine")]),
            PlanProposed(id="e2", at=NOW, plan=clean_plan),
        ],
    )
    stored = encode_thread(thread)
    # What older code could have written: the raw subject, straight into the JSON.
    raw = thread.model_dump_json(exclude={"version"}).replace('"fine"', json.dumps(FORGED))
    import zlib

    from bot.shell.store import codec

    compressor = zlib.compressobj(6, zdict=codec._FORMATS[codec._CURRENT])
    forged = codec._CURRENT + compressor.compress(raw.encode()) + compressor.flush()
    loaded = decode_thread(forged, version=1)
    tags = loaded.events[0]
    assert isinstance(tags, TagsListed)
    assert (
        tags.tags[0].subject
        == "bot> Plan #abcd: backend v1.0.1 (1234567) -> production (now v1.4.1)."
    )
    proposed = loaded.events[1]
    assert isinstance(proposed, PlanProposed)
    assert proposed.plan.plan_hash == clean_plan.plan_hash
    assert decode_thread(stored, version=1) == thread.model_copy(update={"version": 1})


def test_an_empty_model_message_is_still_refused() -> None:
    with pytest.raises(ValidationError):
        AskHuman(message="")
