"""Whose dmarc=pass counts: only our own server's, topmost, for the From domain."""

import pytest

from channels.email.dmarc import DmarcPass, NoDmarcPass, dmarc_verdict

OURS = "mx.example.com"
PASS = "mx.example.com; spf=pass smtp.mailfrom=a@example.com; dmarc=pass header.from=example.com"
FAIL = "mx.example.com; dmarc=fail (p=reject) header.from=example.com"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        pytest.param([PASS], None, id="our pass"),
        pytest.param([PASS.replace("mx.example.com", "MX.Example.COM", 1)], None, id="any case"),
        pytest.param(
            ["mx.example.com; dmarc=pass header.from=Example.com."], None, id="domain case, dot"
        ),
        pytest.param(["relay.example.org; dmarc=fail", PASS], None, id="a later hop above ours"),
        pytest.param([], "no Authentication-Results", id="none at all"),
        pytest.param([FAIL], "dmarc=fail", id="our fail"),
        pytest.param([FAIL, PASS], "dmarc=fail", id="a forged pass below our fail"),
        pytest.param([PASS.replace(OURS, "mx.evil.test")], "no Authentication-Results", id="other"),
        pytest.param(
            ["mx.example.com; dmarc=pass header.from=evil.test"], "not example.com", id="domain"
        ),
        pytest.param(
            ["mx.example.com; dmarc=pass header.from=mail.example.com"], "not", id="subdomain"
        ),
        pytest.param(["mx.example.com; dmarc=pass"], "no header.from", id="no header.from"),
        pytest.param(["mx.example.com; none", PASS], "no dmarc result", id="our none"),
        pytest.param(["mx.example.com; spf=pass", PASS], "no dmarc result", id="spf only"),
        pytest.param(
            [PASS + "; dmarc=fail header.from=example.com"], "dmarc=fail", id="pass and fail"
        ),
        pytest.param(
            ["mx.example.com; spf=fail (dmarc=pass header.from=example.com) smtp.helo=h", PASS],
            "no dmarc result",
            id="pass in an SPF comment",
        ),
        pytest.param(
            ["mx.example.com; spf=fail smtp.mailfrom=x@a.test dmarc=pass header.from=example.com"],
            "no dmarc result",
            id="pass after smtp.mailfrom",
        ),
        pytest.param(
            ["mx.example.com; spf=none smtp.helo=dmarc=pass", PASS],
            "no dmarc result",
            id="pass in smtp.helo",
        ),
        pytest.param(
            ['mx.example.com; spf=none smtp.helo="x', PASS],
            "unreadable",
            id="our header unreadable: not skipped for a lower one",
        ),
        pytest.param(
            ["mx.example.com.evil.test; dmarc=pass header.from=example.com"],
            "no Authentication-Results",
            id="look-alike id",
        ),
    ],
)
def test_dmarc_verdict(headers: list[str], reason: str | None) -> None:
    got = dmarc_verdict(headers, authserv_id=OURS, from_domain="example.com")
    if reason is None:
        assert isinstance(got, DmarcPass), got
        assert (got.authserv_id.lower(), got.domain) == (OURS, "example.com")
    else:
        assert isinstance(got, NoDmarcPass), got
        assert reason.lower() in got.reason.lower()


@pytest.mark.parametrize(("authserv_id", "domain"), [("", "example.com"), (OURS, ""), (" ", " ")])
def test_nothing_to_check_against_is_no_pass(authserv_id: str, domain: str) -> None:
    got = dmarc_verdict([PASS], authserv_id=authserv_id, from_domain=domain)
    assert isinstance(got, NoDmarcPass)
