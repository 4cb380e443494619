"""Request bodies: what is accepted, and errors that name the field without echoing input."""

import pytest
from pydantic import ValidationError

from channels.api.bodies import (
    ApprovalResume,
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


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", "the body is not valid JSON"),
        (b"{", "the body is not valid JSON"),
        (b"[]", "the body must be a JSON object"),
        (b"{}", "type: must be 'approval' or 'message'"),
        (b'{"type":"vote"}', "type: must be 'approval' or 'message'"),
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
