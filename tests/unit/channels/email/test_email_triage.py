"""Inbound email, table-driven: tokens, strict From, machine mail, decisions, threading."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.thread.events import DecisionReceived
from channels.email.message import parse_mail
from channels.email.token import TokenError, sign_token, verify_token
from channels.email.triage import (
    Ignore,
    MailRules,
    Publish,
    Refuse,
    Unauthenticated,
    own_message_id,
    thread_id_for_mail,
    triage,
)

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SECRET = b"s3cret"
PLAN = "0123456789abcdef"
RULES = MailRules(
    bot_address="deploybot@example.com",
    secret=SECRET,
    known_senders=frozenset({"alice@example.com", "dave@example.com", "carol@example.com"}),
    names={"alice@example.com": "alice", "dave@example.com": "dave", "carol@example.com": "carol"},
    require_dmarc=False,
)


def token(address: str = "alice@example.com", *, expires_in_s: float = 3600) -> str:
    return sign_token(
        secret=SECRET,
        thread_id="e0123456789ab",
        plan_hash=PLAN,
        address=address,
        expires_at=NOW + timedelta(seconds=expires_in_s),
    )


def mail(
    body: str = "approve",
    *,
    sender: str = "Alice <alice@example.com>",
    to: str | None = None,
    headers: str = "",
    subject: str = "Re: Plan #0123",
    message_id: str = "<m1@mail.example.com>",
) -> bytes:
    to = to or f"deploybot+{token()}@example.com"
    head = f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n"
    return (head + headers + "\r\n" + body).encode()


def verdict(raw: bytes, rules: MailRules = RULES, now: datetime = NOW) -> object:
    return triage(parse_mail(raw), rules=rules, now=now)


def published_text(raw: bytes) -> str:
    got = verdict(raw)
    assert isinstance(got, Publish), got
    assert got.envelope.event.type == "user_message"
    return got.envelope.event.text


# -- tokens ---------------------------------------------------------------------------


def test_token_round_trip_and_is_short_and_address_safe() -> None:
    tok = token()
    assert len(f"deploybot+{tok}") <= 64
    assert all(c.isalnum() or c in "._-" for c in tok)
    claim = verify_token(tok, secret=SECRET, address="ALICE@example.com", now=NOW)
    assert (claim.thread_id, claim.plan_prefix) == ("e0123456789ab", PLAN[:12])


@pytest.mark.parametrize(
    ("tok", "address", "now", "error"),
    [
        ("garbage", "alice@example.com", NOW, "malformed"),
        (token(), "carol@example.com", NOW, "not valid for this sender"),
        (token(expires_in_s=60), "alice@example.com", NOW + timedelta(minutes=5), "expired"),
        (token().replace("e0123456789ab", "e0123456789ac"), "alice@example.com", NOW, "not valid"),
        (token()[:-1] + ("a" if token()[-1] != "a" else "b"), "alice@example.com", NOW, "not"),
    ],
)
def test_bad_tokens(tok: str, address: str, now: datetime, error: str) -> None:
    with pytest.raises(TokenError, match=error):
        verify_token(tok, secret=SECRET, address=address, now=now)


def test_a_token_from_another_secret_is_refused() -> None:
    with pytest.raises(TokenError):
        verify_token(token(), secret=b"other", address="alice@example.com", now=NOW)


# -- decisions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "decision", "reason"),
    [
        ("approve", "approve", None),
        ("Approved!\n\n-- \nAlice", "approve", None),
        ("reject not during the sale", "reject", "not during the sale"),
        ("No\n\nOn Mon, Nov 2 deploybot <deploybot@example.com> wrote:\n> approve", "reject", None),
        ("deny: too risky", "reject", "too risky"),
    ],
)
def test_a_decision_with_a_valid_token_is_published_as_data(
    body: str, decision: str, reason: str | None
) -> None:
    got = verdict(mail(body))
    assert isinstance(got, Publish), got
    assert got.envelope.event == DecisionReceived(
        id="<m1@mail.example.com>",
        at=NOW,
        actor="email:alice@example.com",
        decision=decision,
        plan_hash=PLAN[:12],  # the plan named by the signed token, not by the text
        reason=reason,
    )
    assert got.envelope.thread_id == "e0123456789ab"


def test_other_words_with_a_valid_token_are_a_message_in_that_thread() -> None:
    assert published_text(mail("what is in this release?")) == "what is in this release?"


def test_a_token_signed_with_another_key_decides_nothing() -> None:
    webhook_key = b"the-webhook-secret"
    forged = sign_token(
        secret=webhook_key,
        thread_id="e0123456789ab",
        plan_hash=PLAN,
        address="alice@example.com",
        expires_at=NOW + timedelta(hours=1),
    )
    got = verdict(mail(to=f"deploybot+{forged}@example.com"))
    assert isinstance(got, Refuse), got
    assert "not valid" in got.reason


def test_the_thread_comes_from_the_token_and_the_event_id_from_the_message_id() -> None:
    got = verdict(mail("is it tested?"))
    assert isinstance(got, Publish)
    assert got.envelope.thread_id == "e0123456789ab"
    assert got.envelope.event.id == "<m1@mail.example.com>"
    assert got.envelope.origin is None
    assert got.envelope.event.actor == "email:alice@example.com"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (mail(sender="Carol <carol@example.com>"), "not valid for this sender"),  # forwarded
        (mail(to=f"deploybot+{token(expires_in_s=-120)}@example.com"), "expired"),
        (mail(to="deploybot+e0123456789ab.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com"), "not"),
        (mail("approve now please"), "first line"),
        (mail(""), "first line"),
        (mail("x" * 300_000), "too large"),
    ],
)
def test_refused_replies(raw: bytes, reason: str) -> None:
    got = verdict(raw)
    assert isinstance(got, Refuse), got
    assert reason in got.reason


# -- ignored, never answered -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (mail(headers="Auto-Submitted: auto-replied\r\n"), "Auto-Submitted"),
        (mail(headers="X-Autoreply: yes\r\n"), "X-Autoreply"),
        (mail(headers="Precedence: bulk\r\n"), "Precedence"),
        (mail(headers="Precedence: list\r\n"), "Precedence"),
        (mail(headers="Return-Path: <>\r\n"), "bounce"),
        (mail(sender="MAILER-DAEMON@example.com"), "mailer-daemon"),
        (
            mail(
                "--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--b--\r\n",
                headers="MIME-Version: 1.0\r\nContent-Type: multipart/report; "
                'report-type=delivery-status; boundary="b"\r\n',
            ),
            "report",
        ),
        (mail(sender="alice@example.com, dave@example.com"), "exactly one"),
        (mail(sender='"Alice" <alice@example.com@evil.test>'), "malformed"),
        (mail(sender="<>"), "From"),
        (mail(sender="mallory@evil.test"), "not in [people]"),
        (mail(sender="deploybot@example.com"), "bot itself"),
        (mail(message_id=""), "Message-ID"),
    ],
)
def test_ignored(raw: bytes, reason: str) -> None:
    got = verdict(raw)
    assert isinstance(got, Ignore), got
    assert reason in got.reason


def test_out_of_office_without_headers_is_still_not_a_decision() -> None:
    got = verdict(mail("I am out of the office until Monday."))
    assert isinstance(got, Publish)
    assert not got.envelope.event.text.startswith(("approve", "reject"))  # type: ignore[union-attr]


# -- DMARC, when required ------------------------------------------------------------------

DMARC = MailRules(
    **{**RULES.model_dump(), "require_dmarc": True, "authserv_ids": ("mx.example.com",)}
)
AR = "Authentication-Results: "
# Decoded, this reads ``); dmarc=pass header.from=example.com (``: it must stay encoded.
ENCODED = "=?utf-8?q?=29=3B_dmarc=3Dpass_header.from=3Dexample.com_=28?="


@pytest.mark.parametrize(
    ("headers", "ok"),
    [
        (AR + "mx.example.com; dmarc=pass header.from=example.com\r\n", True),
        (AR + "mx.example.com;\r\n dmarc=pass\r\n header.from=example.com\r\n", True),
        (AR + "mx.example.com; spf=pass; dmarc=fail\r\n", False),
        (AR + "evil.test; dmarc=pass header.from=example.com\r\n", False),
        (AR + "mx.example.com; dmarc=pass header.from=evil.test\r\n", False),
        (AR + "mx.example.com; spf=fail (dmarc=pass header.from=example.com)\r\n", False),
        # an encoded word is not decoded: it cannot close the comment it sits in
        (AR + f"mx.example.com; spf=fail ({ENCODED})\r\n", False),
        ("", False),
    ],
)  # fmt: skip
def test_dmarc_required(headers: str, ok: bool) -> None:
    got = verdict(mail(headers=headers), rules=DMARC)
    assert isinstance(got, Publish) is ok
    if not ok:
        assert isinstance(got, Unauthenticated)  # recorded and counted, never answered
        assert (got.claimed, got.person) == ("alice@example.com", "alice")
        assert got.reason
        assert got.message_id


def test_an_unknown_sender_is_ignored_before_authentication_is_judged() -> None:
    """Only mail in the name of someone in [people] is worth recording as refused."""
    got = verdict(mail(sender="mallory@evil.test"), rules=DMARC)
    assert isinstance(got, Ignore)
    assert "not in [people]" in got.reason


def test_rules_take_the_ids_as_the_variable_spells_them() -> None:
    rules = MailRules(**{**RULES.model_dump(), "require_dmarc": True, "authserv_id": "a, b"})
    assert rules.authserv_ids == ("a", "b")
    mail_ = parse_mail(mail(headers=AR + "b; dmarc=pass header.from=example.com\r\n"))
    results = [f.value for f in mail_.trace if f.name == "authentication-results"]
    assert results == ["b; dmarc=pass header.from=example.com"]
    assert isinstance(
        verdict(mail(headers=AR + "b; dmarc=pass header.from=example.com\r\n"), rules=rules),
        Publish,
    )


def test_several_authserv_ids_and_the_boundary() -> None:
    rules = MailRules(
        **{**DMARC.model_dump(), "authserv_ids": ("mx1.example.com", "mx2.example.com")}
    )
    ours = AR + "mx2.example.com; dmarc=pass header.from=example.com\r\n"
    border = (
        "Received: from out.example.com (out.example.com [198.51.100.5]) by mx1.example.com\r\n"
    )
    assert isinstance(verdict(mail(headers=ours + border), rules=rules), Publish)
    got = verdict(mail(headers=border + ours), rules=rules)  # below our border: the sender's
    assert isinstance(got, Unauthenticated), got
    assert got.kind == "no_results", got


def test_rules_require_dmarc_unless_told_otherwise_and_then_need_our_authserv_id() -> None:
    with pytest.raises(ValueError, match="EMAIL_AUTHSERV_ID"):
        MailRules(bot_address="deploybot@example.com", secret=SECRET, known_senders=frozenset())


# -- threading and new threads -------------------------------------------------------------


def test_references_thread_a_message_but_never_carry_a_decision() -> None:
    ref = own_message_id("e0123456789ab", "id000004", "example.com")
    headers = f"References: {ref}\r\n"
    plain = mail("what version is live?", to="deploybot@example.com", headers=headers)
    got = verdict(plain)
    assert isinstance(got, Publish)
    assert got.envelope.thread_id == "e0123456789ab"
    deciding = mail("approve", to="deploybot@example.com", headers=f"In-Reply-To: {ref}\r\n")
    assert isinstance(verdict(deciding), Refuse)


def test_a_new_mail_starts_a_thread() -> None:
    raw = mail(
        "deploy backend v1.4.2 to production\n\n-- \nAlice",
        to="deploybot@example.com",
        subject="please",
    )
    got = verdict(raw)
    assert isinstance(got, Publish)
    assert got.envelope.thread_id == thread_id_for_mail("<m1@mail.example.com>")
    assert got.envelope.event.text == "deploy backend v1.4.2 to production"  # type: ignore[union-attr]
    assert got.envelope.origin is not None
    assert got.envelope.origin.kind == "email"


def test_an_empty_body_uses_the_subject() -> None:
    raw = mail("", to="deploybot@example.com", subject="rollback backend in production")
    got = verdict(raw)
    assert isinstance(got, Publish)
    assert got.envelope.agent == "rollback"


# -- fuzz: no crash, no hang ----------------------------------------------------------------

_pieces = st.sampled_from(
    [
        "From: ",
        "alice@example.com",
        "<",
        ">",
        '"',
        ",",
        "\r\n",
        "\n",
        ": ",
        "To: deploybot+",
        "Content-Type: multipart/mixed; boundary=b\r\n",
        "--b\r\n",
        "Content-Type: text/html; charset=utf-8\r\n",
        "Content-Transfer-Encoding: base64\r\n",
        "=?utf-8?q?=C3=A9?=",
        "<blockquote>",
        "<p>",
        "On Mon wrote:",
        "> ",
        "-- ",
        "approve",
        "Message-ID: <x@y>\r\n",
        "\x00",
        "é",
    ]
)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_pieces, max_size=60).map("".join))
def test_fuzz_structured(text: str) -> None:
    triage(parse_mail(text.encode("utf-8", "surrogatepass")), rules=RULES, now=NOW)


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=2000))
def test_fuzz_bytes(raw: bytes) -> None:
    triage(parse_mail(raw), rules=RULES, now=NOW)
