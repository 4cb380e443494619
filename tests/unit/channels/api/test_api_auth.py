"""The API's credentials: bearer token and webhook signature tables."""

import pytest

from channels.api.auth import bearer_ok, sign, signature_problem

TOKEN = "t0ken-with-enough-entropy"


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        (f"Bearer {TOKEN}", True),
        (f"bearer {TOKEN}", True),
        (f"  Bearer   {TOKEN}  ", True),
        (None, False),
        ("", False),
        ("Bearer", False),
        ("Bearer ", False),
        (TOKEN, False),
        (f"Basic {TOKEN}", False),
        (f"Bearer {TOKEN}x", False),
        (f"Bearer {TOKEN[:-1]}", False),
        ("Bearer ünïcode", False),
    ],
)
def test_bearer(header: str | None, ok: bool) -> None:
    assert bearer_ok(header, token=TOKEN) is ok


def test_no_token_configured_accepts_nothing() -> None:
    assert not bearer_ok("Bearer ", token="")


BODY = b'{"version": "v1.4.3"}'
SECRET = "s3cret"
GOOD = sign(BODY, secret=SECRET)


def test_sign_is_the_documented_scheme() -> None:
    # HMAC-SHA256(key=DEPLOYBOT_WEBHOOK_SECRET, msg=raw body), hex: what
    # `printf '%s' "$BODY" | openssl dgst -sha256 -hmac "$DEPLOYBOT_WEBHOOK_SECRET"` prints.
    assert GOOD == "sha256=5f4d54b6c7747dc0410ca3b15eb590efc96b0879e6ac511441638b7661ad9784"


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        (GOOD, None),
        (GOOD.upper().replace("SHA256=", "sha256="), None),  # hex case does not matter
        (None, "missing X-Deploybot-Signature"),
        ("", "missing"),
        (GOOD.removeprefix("sha256="), "must look like sha256="),
        ("sha1=" + "0" * 40, "must look like"),
        ("sha256=", "must look like"),
        ("sha256=" + "0" * 64, "does not match"),
        (GOOD[:-1], "does not match"),
        (sign(BODY + b" ", secret=SECRET), "does not match"),
        (sign(BODY, secret="other"), "does not match"),
        ("sha256=ßß", "does not match"),
    ],
)
def test_signature(header: str | None, problem: str | None) -> None:
    got = signature_problem(header, body=BODY, secret=SECRET)
    if problem is None:
        assert got is None
    else:
        assert got is not None
        assert problem in got
