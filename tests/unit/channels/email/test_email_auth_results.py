"""RFC 8601 Authentication-Results, table-driven: what is a result and what is only text."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.email.auth_results import (
    MAX_HEADER_CHARS,
    AuthResults,
    Property,
    ResInfo,
    Unreadable,
    parse_auth_results,
)


def results(header: str) -> list[tuple[str, str]]:
    parsed = parse_auth_results(header)
    assert isinstance(parsed, AuthResults), parsed
    return [(r.method, r.result) for r in parsed.results]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("mx.example.com; dmarc=pass header.from=example.com", [("dmarc", "pass")]),
        ("mx.example.com 1; spf=pass smtp.mailfrom=a@example.com", [("spf", "pass")]),
        ("mx.example.com; none", []),
        ("mx.example.com;\r\n\tnone", []),
        ("mx.example.com; DMARC=Pass header.FROM=example.com", [("dmarc", "pass")]),
        ("mx.example.com; dkim/1=pass header.d=example.com;", [("dkim", "pass")]),
        (
            # Gmail's shape: comments, @-values, a base64 piece
            "mx.google.com;\r\n       dkim=pass header.i=@example.com header.s=s1 "
            "header.b=Xk3/D+Ab;\r\n       spf=pass (google.com: domain of a@example.com "
            "designates 192.0.2.1 as permitted sender) smtp.mailfrom=a@example.com;\r\n"
            "       dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=example.com",
            [("dkim", "pass"), ("spf", "pass"), ("dmarc", "pass")],
        ),
        (
            # Microsoft's shape: bare key=value properties, reason=, no space after ;
            "spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=example.com; dkim=pass "
            "(signature was verified) header.d=example.com;dmarc=pass action=none "
            "header.from=example.com;compauth=pass reason=100",
            None,  # the authserv-id is missing there: only the shape of the rest is checked
        ),
        ("mx.example.com; iprev=pass policy.iprev=2001:db8::1", [("iprev", "pass")]),
        ('mx.example.com; auth=pass reason="good (really)" smtp.auth=a', [("auth", "pass")]),
        ('"mx.example.com"; dmarc=none (p=none) header.from=example.com', [("dmarc", "none")]),
        ("mx.example.com; (a (nested \\) comment)) spf=fail", [("spf", "fail")]),
    ],
)
def test_readable_headers(header: str, expected: list[tuple[str, str]] | None) -> None:
    if expected is None:
        header = "mx.example.com; " + header
        assert [m for m, _ in results(header)] == ["spf", "dkim", "dmarc", "compauth"]
    else:
        assert results(header) == expected


def test_the_typed_result_carries_everything() -> None:
    parsed = parse_auth_results(
        "mx.example.com 1; dmarc/1=pass reason=ok (p=reject) header.from=Example.COM "
        'policy.dmarc=reject smtp.mailfrom="a b"@example.com'
    )
    assert parsed == AuthResults(
        authserv_id="mx.example.com",
        version="1",
        results=(
            ResInfo(
                method="dmarc",
                version="1",
                result="pass",
                reason="ok",
                properties=(
                    Property(ptype="header", name="from", value="Example.COM"),
                    Property(ptype="policy", name="dmarc", value="reject"),
                    Property(ptype="smtp", name="mailfrom", value="a b@example.com"),
                ),
            ),
        ),
    )
    assert isinstance(parsed, AuthResults)
    assert parsed.results[0].value("header", "from") == "Example.COM"
    assert parsed.results[0].value("header", "d") is None


# A pass smuggled into text: never a dmarc result.
@pytest.mark.parametrize(
    "header",
    [
        "mx.example.com; spf=fail (dmarc=pass header.from=example.com) smtp.mailfrom=x@evil.test",
        "mx.example.com; spf=fail smtp.mailfrom=dmarc=pass@evil.test",
        'mx.example.com; spf=fail smtp.mailfrom="x;dmarc=pass"@evil.test',
        "mx.example.com; spf=none smtp.helo=dmarc=pass",
        'mx.example.com; spf=none smtp.helo="; dmarc=pass header.from=example.com"',
        'mx.example.com; spf=fail reason="dmarc=pass" smtp.mailfrom=x@evil.test',
        "mx.example.com; spf=pass smtp.mailfrom=a dmarc=pass header.from=example.com",
        "mx.example.com; spf=fail (x \\) ; dmarc=pass header.from=example.com) smtp.helo=h",
    ],
)
def test_smuggled_passes_are_not_results(header: str) -> None:
    parsed = parse_auth_results(header)
    match parsed:
        case AuthResults():
            assert [r.method for r in parsed.results] == ["spf"]
        case Unreadable():
            assert parsed.authserv_id == "mx.example.com"


@pytest.mark.parametrize(
    ("header", "authserv_id"),
    [
        ("", None),
        (";", None),
        ("mx.example.com", "mx.example.com"),
        ("mx.example.com; dmarc", "mx.example.com"),
        ("mx.example.com; dmarc=", "mx.example.com"),
        ("mx.example.com; dmarc=pass (unterminated", "mx.example.com"),
        ('mx.example.com; dmarc=pass header.from="example.com', "mx.example.com"),
        ("mx.example.com; dmarc=pass header.=x", "mx.example.com"),
        ("mx.example.com; dmarc=pass header.from", "mx.example.com"),
        ("mx.example.com; dmarc=pass =pass", "mx.example.com"),
        ("mx.example.com; dkim/=pass", "mx.example.com"),
        ("mx.example.com; none; dmarc=pass", "mx.example.com"),
        ('"mx.example.com; dmarc=pass', None),
        ("mx.example.com; " + "a" * MAX_HEADER_CHARS, None),
    ],
)
def test_unreadable_headers_say_so(header: str, authserv_id: str | None) -> None:
    parsed = parse_auth_results(header)
    assert isinstance(parsed, Unreadable), parsed
    assert parsed.authserv_id == authserv_id
    assert parsed.reason


_pieces = st.sampled_from(
    ["mx.example.com", ";", " ", "\r\n\t", "(", ")", "\\", '"', "=", ".", "/", "@", "dmarc",
     "pass", "header", "from", "none", "reason", "1", "é", "\x00", "smtp", "mailfrom"]
)  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(st.lists(_pieces, max_size=40).map("".join))
def test_fuzz_never_raises(header: str) -> None:
    assert isinstance(parse_auth_results(header), AuthResults | Unreadable)


@settings(max_examples=1000, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_text_never_raises(header: str) -> None:
    assert isinstance(parse_auth_results(header), AuthResults | Unreadable)
