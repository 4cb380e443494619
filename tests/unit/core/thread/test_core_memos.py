"""The pure core's shortcuts (issue 18) answer exactly what the long way answers.

- ``clean``'s fast path (short, tidy printable ASCII returned as it is) against the full
  pipeline, on texts made to sit on its edges (spaces, tabs, line breaks, lengths at the cap);
- ``Plan.plan_hash``, remembered per field tuple, against the hash written out by hand, and
  never stale after ``model_copy(update=...)``;
- ``Outside`` cleans each value once, and a value pydantic changes is cleaned again;
- ``outside_text`` (remembered for short texts) and ``redact`` (a short text with no hint
  skips the shapes) against the same work done without them;
- ``Thread.unfinished_deploy`` (now read from the end) against the forward fold it replaced,
  and ``Plan.identity`` (no copy of the plan) against the copy's hash.
"""

import hashlib
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field

from bot.core.thread.events import (
    DeployFinished,
    DeployInterrupted,
    DeployStarted,
    Event,
    MessageSent,
)
from bot.core.thread.origin import ApiOrigin
from bot.core.thread.plan import Lineage, Plan
from bot.core.thread.text import outside
from bot.core.thread.text.outside import (
    CAPS,
    Kind,
    Line,
    Name,
    Output,
    Subject,
    Text,
    Url,
    clean,
    inert,
)
from bot.core.thread.thread import Thread
from bot.core.wording import evidence, redact
from bot.core.wording.secret_shapes import SHAPES

KINDS: list[Kind] = list(CAPS)


def _the_long_way(text: str, kind: Kind) -> str:
    cap = CAPS[kind]
    room = 4 * cap.max_chars + 4096
    if len(text) > room:
        text = text[len(text) - room :] if cap.keep == "end" else text[:room]
    text = inert(text, multiline=cap.multiline)
    if cap.multiline:
        text = outside._lines(text, cap)
    return outside._cut(text, cap)


_EDGES = st.text(alphabet=st.sampled_from("ab ~!\t\n\r\x1b[é"), max_size=40)


@settings(max_examples=400, deadline=None)
@given(text=_EDGES, kind=st.sampled_from(KINDS))
def test_the_fast_path_answers_as_the_long_way(text: str, kind: Kind) -> None:
    assert clean(text, kind=kind) == _the_long_way(text, kind)


class _EveryKind(BaseModel):
    name: Name
    subject: Subject
    url: Url
    line: Line
    text: Text
    output: Output


@settings(max_examples=300, deadline=None)
@given(text=_EDGES)
def test_a_field_of_each_kind_holds_what_clean_gives(text: str) -> None:
    got = _EveryKind.model_validate({kind: text for kind in KINDS})
    assert [getattr(got, kind) for kind in KINDS] == [clean(text, kind=k) for k in KINDS]
    raw = json.dumps({kind: text for kind in KINDS})
    assert _EveryKind.model_validate_json(raw) == got


def test_the_fast_path_at_the_caps() -> None:
    for kind in KINDS:
        cap = CAPS[kind]
        for n in (cap.max_chars - 1, cap.max_chars, cap.max_chars + 1):
            for text in ("a" * n, "a " * (n // 2), "\n" * n, "a\n" * (n // 2)):
                assert clean(text, kind=kind) == _the_long_way(text, kind), (kind, n)
                got = _EveryKind.model_validate({k: text for k in KINDS})
                assert getattr(got, kind) == _the_long_way(text, kind), (kind, n)
    lines = "x\n" * (CAPS["output"].max_lines - 1)
    for text in (lines, lines + "x", lines + "x\n", lines + "x\ny"):
        assert clean(text, kind="output") == _the_long_way(text, "output")
        assert clean(text, kind="text") == _the_long_way(text, "text")


def _by_hand(plan: Plan) -> str:
    fields = [
        plan.kind,
        plan.service,
        plan.environment,
        plan.version,
        plan.sha,
        plan.subject,
        plan.previous_version,
        plan.requester,
    ]
    if plan.attempt > 1:
        fields.append(str(plan.attempt))
    if plan.previous_sha is not None:
        fields.append(f"previous_sha={plan.previous_sha}")
    if plan.lineage is not None:
        fields.append(f"lineage={plan.lineage.relation}:{plan.lineage.missing}")
    blob = json.dumps(fields, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


PLAN = Plan(
    kind="deploy",
    service="backend",
    environment="production",
    version="v1.4.2",
    sha="a" * 40,
    subject="fix login timeout",
    previous_version="v1.4.1",
    requester="carol",
)


def test_plan_hash_is_never_stale_after_model_copy() -> None:
    updates: list[dict[str, object]] = [
        {},
        {"attempt": 2},
        {"attempt": 3},
        {"environment": "staging"},
        {"subject": None},
        {"previous_version": None},
        {"previous_sha": "b" * 40},
        {"lineage": Lineage(relation="diverged", missing=2)},
        {"lineage": Lineage(relation="diverged", missing=3)},
        {"lineage": Lineage(relation="unknown", why="no answer")},
        {"lineage": Lineage(relation="unknown", why="another answer")},  # why is not hashed
    ]
    seen: dict[str, str] = {}
    for update in updates:
        for _ in range(2):  # once to remember, once from the memo
            plan = PLAN.model_copy(update=update)
            assert plan.plan_hash == _by_hand(plan), update
        seen[repr(update)] = plan.plan_hash
        assert PLAN.plan_hash == _by_hand(PLAN)  # the original is untouched by its copies
    assert len(set(seen.values())) == len(updates) - 1  # only ``why`` hashes as another


def test_a_known_plan_hash() -> None:
    # The first attempt hashes as before attempts existed (tests/unit/golden keeps others).
    assert PLAN.plan_hash == _by_hand(PLAN)
    assert PLAN.model_copy(update={"attempt": 1}).plan_hash == PLAN.plan_hash
    assert PLAN.identity == PLAN.model_copy(update={"attempt": 4}).identity


class _Counted(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    line: Line
    text: Text = Field(min_length=1)


def test_outside_cleans_each_value_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = outside.clean

    def counting(text: str, *, kind: Kind) -> str:
        calls.append(text)
        return real(text, kind=kind)

    monkeypatch.setattr(outside, "clean", counting)
    got = _Counted.model_validate({"line": "a\x1b[2Kb", "text": "x\u202ey"})
    assert (got.line, got.text) == ("ab", "xy")
    assert calls == ["a\x1b[2Kb", "x\u202ey"]  # once each (it was twice: before and after)
    calls.clear()
    _Counted.model_validate_json('{"line": "plain", "text": "two\\nlines", "x": "a\\tb"}')
    assert calls == []  # tidy text takes the fast path: nothing to clean
    _Counted.model_validate_json('{"line": "tab\\there", "text": "two\\nlines"}')
    assert calls == ["tab\there"]


def test_a_value_pydantic_changes_is_cleaned_again() -> None:
    # str_strip_whitespace strips what cleaning left (" x " once the zero-width spaces are
    # gone): the stripped value is what the field holds, as when it was cleaned after too.
    got = _Counted.model_validate({"line": " \u200b a ", "text": "\u200b x \u200b"})
    assert (got.line, got.text) == ("a", "x")


def _redact_the_long_way(text: str) -> str:
    text = redact._cut_edges(text, ())
    lowered = text.lower()
    for shape in SHAPES:
        if any(hint in lowered for hint in shape.hints):
            text = shape.pattern.sub(redact._MASK_VALUE, text)
    return text


_SECRETISH = st.text(alphabet=st.sampled_from("ab -_:/=@.kKeyPpasTtonGgh\n\x1b"), max_size=160)


@settings(max_examples=400, deadline=None)
@given(text=_SECRETISH)
def test_outside_text_and_redact_answer_as_without_shortcuts(text: str) -> None:
    assert redact.redact(text, secrets=()) == _redact_the_long_way(text)
    for max_chars in (8, 72):
        long_way = evidence._outside_text(text, max_chars)
        assert evidence.outside_text(text, max_chars=max_chars) == long_way
        assert evidence.outside_text(text, max_chars=max_chars) == long_way  # remembered


def test_redact_still_masks_short_texts() -> None:
    assert redact.redact("password=hunter2", secrets=()) == f"password={redact.MASK}"
    assert "ghp_" not in redact.redact("ghp_" + "a" * 36, secrets=())
    assert redact.redact("fix login timeout", secrets=()) == "fix login timeout"


def _forward_fold(events: list[Event]) -> DeployStarted | None:
    open_start: DeployStarted | None = None
    for event in events:
        if isinstance(event, DeployStarted):
            open_start = event
        elif isinstance(event, DeployFinished | DeployInterrupted):
            open_start = None
    return open_start


_AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _event(kind: str, n: int) -> Event:
    match kind:
        case "start":
            return DeployStarted(
                id=f"e{n}", at=_AT, plan_hash="p", idempotency_key=f"k{n}", fencing_token=n
            )
        case "finish":
            return DeployFinished(
                id=f"e{n}",
                at=_AT,
                plan_hash="p",
                result="succeeded",
                exit_code=0,
                duration_s=1.0,
                output_tail="ok",
            )
        case "interrupt":
            return DeployInterrupted(id=f"e{n}", at=_AT, plan_hash="p")
        case _:
            return MessageSent(id=f"e{n}", at=_AT, text="hi")


@settings(max_examples=200, deadline=None)
@given(kinds=st.lists(st.sampled_from(["start", "finish", "interrupt", "message"]), max_size=8))
def test_unfinished_deploy_is_the_forward_fold(kinds: list[str]) -> None:
    events = [_event(kind, n) for n, kind in enumerate(kinds)]
    thread = Thread(id="t", origin=ApiOrigin(), created_at=_AT, events=events)
    assert thread.unfinished_deploy() == _forward_fold(events)


def test_identity_is_the_first_attempts_hash() -> None:
    for attempt in (1, 2, 5):
        plan = PLAN.model_copy(update={"attempt": attempt})
        assert plan.identity == PLAN.plan_hash == _by_hand(PLAN)
        assert plan.identity == plan.model_copy(update={"attempt": 1}).plan_hash
