"""Whose dmarc=pass counts: our own servers', every one of their headers above the boundary.

The fixtures in tests/fixtures/mail were delivered by a real Postfix with OpenDKIM and
OpenDMARC in both milter orders (tests/fixtures/mail/capture.py made them); the synthetic
cases below are neighbouring attacks on the same rule.
"""

from pathlib import Path

import pytest

from channels.email.boundary import TraceField, own_results, received_from
from channels.email.dmarc import DmarcPass, NoDmarcPass, aligned, dmarc_verdict
from channels.email.message import parse_mail

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "mail"
ORDERS = ("dkim-first", "dmarc-first")
OURS = "mx.example.com"
BOTH = ("mx.example.com", "mx2.example.com")
GENUINE = ("request", "approval", "approval-via-mx2")
FORGED = {  # name -> why it is refused, in both orders (dmarc-first: OpenDMARC believed it)
    "forged-spoof": {"dmarc_fail"},
    "forged-evil-envelope": {"dmarc_fail"},
    "forged-ar": {"dmarc_fail", "unbacked"},
    "forged-ar-mx2": {"dmarc_fail"},
    "forged-received-ar": {"dmarc_fail", "unbacked"},
    "forged-helo-mx2": {"dmarc_fail"},
    "forged-via-mx2": {"dmarc_fail"},
}


def fixture(order: str, name: str) -> bytes:
    return (FIXTURES / order / f"{name}.eml").read_bytes()


def verdict(raw: bytes, ids: tuple[str, ...] = BOTH) -> DmarcPass | NoDmarcPass:
    mail = parse_mail(raw)
    assert mail.from_address is not None
    domain = mail.from_address.rpartition("@")[2]
    return dmarc_verdict(mail.trace, authserv_ids=ids, from_domain=domain)


def trace(*fields: str) -> list[TraceField]:
    """``"Received: ..."`` / ``"Authentication-Results: ..."`` lines, topmost first."""
    out = []
    for field in fields:
        name, _sep, value = field.partition(":")
        kind = "received" if name.lower() == "received" else "authentication-results"
        out.append(TraceField(name=kind, value=value.strip()))
    return out


def test_the_fixtures_are_what_the_issue_describes() -> None:
    """Both orders are there, and in OpenDMARC-first order the topmost header with our id
    has no dmarc result (what the old topmost-only rule stumbled on)."""
    for order in ORDERS:
        assert sorted(p.stem for p in (FIXTURES / order).glob("*.eml")) == sorted(
            [*GENUINE, *FORGED]
        )
    for order, top_has_dmarc in (("dkim-first", True), ("dmarc-first", False)):
        mail = parse_mail(fixture(order, "approval"))
        top = next(f for f in mail.trace if f.name == "authentication-results")
        assert top.value.startswith(OURS)
        assert ("dmarc=" in top.value) is top_has_dmarc


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("name", GENUINE)
def test_genuine_mail_passes_in_both_milter_orders(order: str, name: str) -> None:
    got = verdict(fixture(order, name))
    assert isinstance(got, DmarcPass), got
    assert got.domain == "example.com"
    want = "mx2.example.com" if name.endswith("via-mx2") else OURS
    assert got.authserv_id == want


@pytest.mark.parametrize("order", ORDERS)
def test_one_mx_is_enough_when_mail_came_through_it(order: str) -> None:
    assert isinstance(verdict(fixture(order, "approval"), (OURS,)), DmarcPass)
    # Through the second MX: its headers count only when its id is configured.
    got = verdict(fixture(order, "approval-via-mx2"), (OURS,))
    assert isinstance(got, NoDmarcPass), got
    assert got.kind == "no_dmarc", got


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("name", sorted(FORGED))
def test_forgeries_are_refused_in_both_milter_orders(order: str, name: str) -> None:
    got = verdict(fixture(order, name))
    assert isinstance(got, NoDmarcPass), got
    assert got.kind in FORGED[name], got


def test_opendmarc_first_believed_the_forged_header_and_the_bot_does_not() -> None:
    """Real servers: OpenDMARC placed first read the forger's dkim=pass header (with our
    id) before OpenDKIM stripped it, and wrote dmarc=pass; our own SPF result names the
    forger's domain and no dkim=pass of ours backs it."""
    raw = fixture("dmarc-first", "forged-ar")
    assert b"dmarc=pass (p=reject dis=none) header.from=example.com" in raw
    got = verdict(raw)
    assert isinstance(got, NoDmarcPass), got
    assert got.kind == "unbacked", got


def _without_our_results(raw: bytes) -> bytes:
    """The message as if our MX had added no Authentication-Results at all."""
    head, sep, body = raw.partition(b"\n\n")
    lines, out, skipping = head.split(b"\n"), [], False
    for line in lines:
        if line.startswith(b"Authentication-Results: mx.example.com"):
            skipping = True
            continue
        if skipping and line[:1] in (b" ", b"\t"):
            continue
        skipping = False
        out.append(line)
    return b"\n".join(out) + sep + body


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("name", ["forged-ar-mx2", "forged-helo-mx2"])
def test_a_forged_header_below_the_boundary_never_counts(order: str, name: str) -> None:
    """The forger's own ``mx2.example.com; dmarc=pass`` (not stripped by mx, which strips
    only its own id) is below the Received our border wrote: with ours gone it is all that
    is left, and it still counts for nothing, even behind a HELO naming mx2."""
    raw = _without_our_results(fixture(order, name))
    assert b"Authentication-Results: mx2.example.com; dkim=pass" in raw
    got = verdict(raw)
    assert isinstance(got, NoDmarcPass), got
    assert got.kind == "no_results", got
    assert "above the Received from" in got.reason


BORDER = (
    "Received: from out.example.com (out.example.com [198.51.100.5])"
    " by mx.example.com (Postfix) with ESMTP id 64B6F20F340; Mon, 7 Dec 2026 04:04:41 +0000"
)
LMTP = "Received: from mx.example.com ([192.0.2.1]) by mx.example.com with LMTP id AEzUIF"
DKIM = "Authentication-Results: mx.example.com; dkim=pass (2048-bit key) header.d=example.com"
SPF = "Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=example.com"
PASS = "Authentication-Results: mx.example.com; dmarc=pass (p=reject) header.from=example.com"
FAIL = "Authentication-Results: mx.example.com; dmarc=fail (p=reject) header.from=example.com"
FORGED_RECEIVED = (
    "Received: from out.example.com (out.example.com [198.51.100.5]) by mx.example.com"
)


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        pytest.param([LMTP, DKIM, PASS, SPF, BORDER], None, id="dkim-first layout"),
        pytest.param([LMTP, PASS, SPF, DKIM, BORDER], None, id="dmarc-first layout"),
        pytest.param([PASS], None, id="a bare pass, no Received"),
        pytest.param([], "no_results", id="none at all"),
        pytest.param([LMTP, BORDER, PASS], "no_results", id="ours only below the border"),
        pytest.param(
            [LMTP, BORDER, FORGED_RECEIVED, PASS], "no_results", id="forged Received by our MX"
        ),
        pytest.param([LMTP, PASS, FAIL, BORDER], "dmarc_fail", id="pass in one, fail in another"),
        pytest.param([LMTP, FAIL, DKIM, PASS, BORDER], "dmarc_fail", id="fail on top of a pass"),
        pytest.param([LMTP, DKIM, FAIL, BORDER, PASS], "dmarc_fail", id="forged pass below"),
        pytest.param([LMTP, DKIM, SPF, BORDER], "no_dmarc", id="no dmarc of ours"),
        pytest.param(
            [LMTP, PASS.replace("dmarc=pass", "dmarc=temperror"), BORDER], "dmarc_fail", id="temp"
        ),
        pytest.param(
            [LMTP, PASS.replace("header.from=example.com", "header.from=evil.test"), BORDER],
            "other_domain",
            id="pass for another domain",
        ),
        pytest.param(
            [LMTP, PASS, SPF.replace("=example.com", "=evil.test"), BORDER],
            "unbacked",
            id="pass, our SPF for another domain, no DKIM",
        ),
        pytest.param(
            [LMTP, PASS, SPF.replace("=pass", "=fail"), DKIM.replace("=example.com", "=a.test")],
            "unbacked",
            id="pass, our SPF fails, DKIM for another domain",
        ),
        pytest.param(
            [LMTP, PASS, SPF.replace("spf=pass", "spf=fail"), DKIM, BORDER],
            None,
            id="SPF failed, DKIM aligned: pass",
        ),
        pytest.param(
            [LMTP, "Authentication-Results: mx.example.com; spf=none smtp.helo=\"x", PASS, BORDER],
            "unreadable",
            id="one of ours unreadable: nothing counts",
        ),
        pytest.param(
            [LMTP, 'Authentication-Results: "mx.example.com"; dmarc=fail header.from=example.com',
             PASS, BORDER],
            "dmarc_fail",
            id="our id as a quoted string is still ours",
        ),
        pytest.param(
            [LMTP, "Authentication-Results: mx.example.com.evil.test; dmarc=pass "
             "header.from=example.com", BORDER],
            "no_results",
            id="look-alike id",
        ),
        pytest.param(
            [LMTP, "Authentication-Results: evil.test (mx.example.com); dmarc=pass "
             "header.from=example.com", BORDER],
            "no_results",
            id="our id in a comment",
        ),
        pytest.param(
            [LMTP, "Authentication-Results: mx.example.com; spf=fail (dmarc=pass "
             "header.from=example.com) smtp.mailfrom=evil.test", BORDER],
            "no_dmarc",
            id="a pass in a comment",
        ),
        pytest.param(
            [LMTP, "Authentication-Results: mx.example.com; spf=none smtp.helo=dmarc=pass",
             BORDER],
            "no_dmarc",
            id="a pass in smtp.helo",
        ),
    ],
)  # fmt: skip
def test_the_rule_on_header_sets(fields: list[str], kind: str | None) -> None:
    got = dmarc_verdict(trace(*fields), authserv_ids=(OURS,), from_domain="example.com")
    if kind is None:
        assert isinstance(got, DmarcPass), got
    else:
        assert isinstance(got, NoDmarcPass), got
        assert got.kind == kind, got
        assert got.reason


@pytest.mark.parametrize(("ids", "domain"), [((), "example.com"), ((OURS,), ""), ((" ",), " ")])
def test_nothing_to_check_against_is_no_pass(ids: tuple[str, ...], domain: str) -> None:
    got = dmarc_verdict(trace(PASS), authserv_ids=ids, from_domain=domain)
    assert isinstance(got, NoDmarcPass)


def test_ids_are_compared_without_case_or_a_trailing_dot() -> None:
    got = dmarc_verdict(
        trace(PASS.replace(OURS, "MX.Example.COM.")), authserv_ids=("mx.example.com",),
        from_domain="Example.com.",
    )  # fmt: skip
    assert isinstance(got, DmarcPass)


@pytest.mark.parametrize(
    ("value", "names"),
    [
        ("from mx.example.com ([192.0.2.1]) by mx.example.com with LMTP id x", [OURS]),
        ("from out.example.com (out.example.com [198.51.100.5]) by mx", ["out.example.com"] * 2),
        ("from mx2.example.com (mx.evil.test [203.0.113.66]) by mx",
         ["mx2.example.com", "mx.evil.test"]),
        ("from mx2.example.com (unknown [203.0.113.66]) by mx", ["mx2.example.com", "unknown"]),
        ("from mx2.example.com ([192.0.2.2] helo=mx2.example.com) by mx", ["mx2.example.com"] * 2),
        ("from [203.0.113.9] (helo=mx.example.com) by mx with esmtp", ["[203.0.113.9]", OURS]),
        ("from localhost (localhost [127.0.0.1]) by mx (Postfix) id 1", ["localhost"] * 2),
        ("from out.example.com (out.example.com [1.2.3.4]) (using TLSv1.3 with cipher X (256/256"
         " bits)) by mx.example.com (Postfix) with ESMTPS", ["out.example.com"] * 2),
        ("by mx.example.com (Postfix, from userid 0) id 3F", None),
        ("from (unknown [1.2.3.4]) by mx", ["unknown", "unknown"]),
    ],
)  # fmt: skip
def test_the_sending_side_of_a_received_header(value: str, names: list[str] | None) -> None:
    assert received_from(value) == names


def test_a_helo_naming_our_host_does_not_make_an_internal_hop() -> None:
    fields = trace(
        "Received: from mx2.example.com (unknown [203.0.113.66]) by mx.example.com (Postfix)",
        "Authentication-Results: mx2.example.com; dmarc=pass header.from=example.com",
    )
    own = own_results(fields, authserv_ids=BOTH)
    assert own.results == ()
    assert own.boundary == "unknown"


@pytest.mark.parametrize(
    ("domain", "ok"),
    [
        ("example.com", True),
        ("alice@example.com", True),
        ("mail.example.com", True),
        ("EXAMPLE.com.", True),
        ("com", False),
        ("evil.test", False),
        ("example.com.evil.test", False),
        ("notexample.com", False),
        ("", False),
    ],
)
def test_alignment(domain: str, ok: bool) -> None:
    assert aligned(domain, "example.com") is ok


def test_plain_header_values_and_the_variables_spelling_are_accepted() -> None:
    """Authentication-Results values given as strings (no Received: nothing to bound them)
    and ids spelled as EMAIL_AUTHSERV_ID spells them."""
    headers = [
        "mx2.example.com; dkim=pass header.d=example.com",
        "mx1.example.com; dmarc=pass header.from=example.com",
    ]
    got = dmarc_verdict(
        headers, authserv_id="mx1.example.com,mx2.example.com", from_domain="example.com"
    )
    assert isinstance(got, DmarcPass), got
    got = dmarc_verdict(
        [*headers, "mx2.example.com; dmarc=fail header.from=example.com"],
        authserv_id="mx1.example.com, mx2.example.com",
        from_domain="example.com",
    )
    assert isinstance(got, NoDmarcPass), got
    assert got.kind == "dmarc_fail"
