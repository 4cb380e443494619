"""Request bodies: what is accepted, and errors that name the field without echoing input."""

import pytest
from pydantic import ValidationError

from channels.api.bodies import (
    ApprovalResume,
    CancelResume,
    LaunchRequest,
    MessageResume,
    describe_errors,
    parse_resume,
    parse_webhook_fields,
)

PLAN = b"0123456789abcdef"


def error_of(raw: bytes) -> str:
    with pytest.raises(ValidationError) as raised:
        parse_resume(raw)
    return describe_errors(raised.value)


def test_resume_is_a_union_on_type() -> None:
    approval = parse_resume(
        b'{"type":"approval","decision":"approve","user":"alice","plan_hash":"%s"}' % PLAN
    )
    assert approval == ApprovalResume(
        type="approval", decision="approve", user="alice", plan_hash=PLAN.decode()
    )
    message = parse_resume(b'{"type":"message","text":"status","user":"carol"}')
    assert message == MessageResume(type="message", text="status", user="carol")
    cancel = parse_resume(b'{"type":"cancel","user":"carol"}')
    assert cancel == CancelResume(type="cancel", user="carol", plan_hash=None)
    named = parse_resume(b'{"type":"cancel","user":"carol","plan_hash":"%s"}' % PLAN)
    assert named == CancelResume(type="cancel", user="carol", plan_hash=PLAN.decode())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", "the body is not valid JSON"),
        (b"{", "the body is not valid JSON"),
        (b"[]", "the body must be a JSON object"),
        (b"{}", "type: must be 'approval', 'message' or 'cancel'"),
        (b'{"type":"vote"}', "type: must be 'approval', 'message' or 'cancel'"),
        (b'{"type":"cancel"}', "user: required"),
        (b'{"type":"cancel","user":"c","plan_hash":"3f2a"}', "plan_hash: String should have"),
        (b'{"type":"cancel","user":"c","reason":"x"}', "reason: unknown field"),
        (b'{"type":"approval","user":"alice"}', "decision: required"),
        (b'{"type":"approval","decision":"approve","user":"alice"}', "plan_hash: required"),
        (
            b'{"type":"approval","decision":"approve","user":"alice","plan_hash":"#3f2a"}',
            "plan_hash: String should have at least 16",
        ),
        (
            b'{"type":"approval","decision":"approve","user":"alice","plan_hash":"ZZZZZZZZZZZZZZZZ"}',
            "plan_hash: String should match pattern",
        ),
        (
            b'{"type":"approval","decision":"maybe","user":"alice"}',
            "decision: Input should be 'approve' or 'reject'",
        ),
        (b'{"type":"message","user":"a","text":"  "}', "text: must contain more than spaces"),
        (b'{"type":"message","user":"a","text":"x","extra":1}', "extra: unknown field"),
        (b'{"type":"message","user":"","text":"x"}', "user: String should have at least"),
        (b'{"type":"message","user":"a","text":"\\ud800"}', "the body is not valid JSON"),
    ],
)
def test_resume_errors(raw: bytes, expected: str) -> None:
    assert expected in error_of(raw)


def test_errors_do_not_echo_the_input() -> None:
    secret_looking = b'{"type":"approval","decision":"sk-ant-SECRET","user":"alice"}'
    assert "SECRET" not in error_of(secret_looking)


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (None, None),
        ("  not today  ", "not today"),
        ("", None),
        ("...", None),  # punctuation alone is no reason
        ("broken build.", "broken build."),
        ("two\nlines", "two lines"),
        ("tab\there\u200b\x00 and\r\n\r\nmore", "tab here and more"),
        ("\u2028\x07", None),
    ],
)
def test_reason_is_one_plain_line(reason: str | None, expected: str | None) -> None:
    body = ApprovalResume(
        type="approval", decision="reject", user="alice", reason=reason, plan_hash=PLAN.decode()
    )
    assert body.reason == expected


@pytest.mark.parametrize("reason", ["why?", "x" * 301])
def test_reason_refused(reason: str) -> None:
    with pytest.raises(ValidationError, match="reason"):
        ApprovalResume(
            type="approval", decision="reject", user="alice", reason=reason, plan_hash=PLAN.decode()
        )


def test_launch_request() -> None:
    body = LaunchRequest.model_validate_json(b'{"text":"deploy backend to staging","user":"c"}')
    assert body.text == "deploy backend to staging"
    for bad in (b'{"text":"","user":"c"}', b'{"text":"x"}', b'{"text":"x","user":"c","y":1}'):
        with pytest.raises(ValidationError):
            LaunchRequest.model_validate_json(bad)
    with pytest.raises(ValidationError):
        LaunchRequest.model_validate_json(b'{"text":"' + b"x" * 4001 + b'","user":"c"}')


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (b"", (False, None, None)),
        (b',"when_ready":true', (True, None, None)),
        (b',"skip_soak":"INC-7 hotfix"', (False, "INC-7 hotfix", None)),
        (b',"break_glass":"St\\u00f6rung","skip_soak":null', (False, None, "St\u00f6rung")),
    ],
)
def test_launch_request_release_fields(
    fields: bytes, expected: tuple[bool, str | None, str | None]
) -> None:
    body = LaunchRequest.model_validate_json(
        b'{"text":"deploy backend to staging","user":"c"' + fields + b"}"
    )
    assert (body.when_ready, body.skip_soak, body.break_glass) == expected


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (b'"skip_soak":""', "skip_soak: String should have at least 1 character"),
        (b'"skip_soak":"   "', "skip_soak: must be one line of printable characters"),
        (b'"break_glass":"two\\nlines"', "break_glass: must be one line of printable"),
        (b'"break_glass":"bidi\\u202e"', "break_glass: must be one line of printable"),
        (b'"skip_soak":"why?"', "skip_soak: must not contain '?'"),
        (b'"skip_soak":"' + b"x" * 201 + b'"', "skip_soak: String should have at most 200"),
        (b'"when_ready":"soon"', "when_ready: Input should be a valid boolean"),
    ],
)
def test_launch_request_release_fields_refused(fields: bytes, expected: str) -> None:
    raw = b'{"text":"deploy backend to staging","user":"c",' + fields + b"}"
    with pytest.raises(ValidationError) as raised:
        LaunchRequest.model_validate_json(raw)
    assert expected in describe_errors(raised.value)


def test_webhook_fields() -> None:
    assert parse_webhook_fields(b"") == {}
    assert parse_webhook_fields(b"  \n") == {}
    assert parse_webhook_fields(b'{"version":"v1","n":[1,{"a":null}]}') == {
        "version": "v1",
        "n": [1, {"a": None}],
    }
    for bad in (b"[]", b'"v1"', b"{", b"[" * 10_000 + b"]" * 10_000, b'{"a":"\\udc00"}'):
        with pytest.raises(ValidationError):
            parse_webhook_fields(bad)
