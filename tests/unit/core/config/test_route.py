"""Routes ("slack:C0DEPLOYS", "email:a@x.com,b@y.com"): checked, taken apart, compared."""

import re

import pytest

from bot.core.config.route import (
    check_route,
    email_addresses,
    origin_route,
    reaches,
    route_kind,
    slack_channel,
)
from bot.core.thread.origin import (
    ApiOrigin,
    EmailOrigin,
    Origin,
    ScheduleOrigin,
    SlackOrigin,
    TerminalOrigin,
)

SLACK = SlackOrigin(channel="C0DEPLOYS", thread_ts="1700000000.000100")
EMAIL = EmailOrigin(address="Dave@Example.com", subject="deploy backend")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("slack:C0DEPLOYS", "slack:C0DEPLOYS"),
        ("  slack: C0DEPLOYS  ", "slack:C0DEPLOYS"),
        ("slack:C1", "slack:C1"),
        ("email:a@x.com", "email:a@x.com"),
        ("email:a@x.com,B@Y.com", "email:a@x.com,b@y.com"),
        ("email: a@x.com , A@X.COM, b@y.com ", "email:a@x.com,b@y.com"),
        ("email:a@x.com,,b@y.com,", "email:a@x.com,b@y.com"),
        ("email:first.last+tag@mail.example.co.uk", "email:first.last+tag@mail.example.co.uk"),
    ],
)
def test_good_routes_are_normalised(value: str, expected: str) -> None:
    assert check_route(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "'' is not a route; use 'slack:<channel id>' or 'email:<address>[,<address>]'"),
        ("slack:", "'slack:' is not a route; use"),
        ("email:   ", "'email:   ' is not a route; use"),
        ("C0DEPLOYS", "'C0DEPLOYS' is not a route; use"),
        ("slack:lowercase", "'slack:lowercase': a Slack channel id looks like C0DEPLOYS"),
        ("slack:#deploys", "'slack:#deploys': a Slack channel id looks like C0DEPLOYS"),
        ("slack:C", "'slack:C': a Slack channel id looks like C0DEPLOYS"),
        ("slack:C0DEPLOYS:x", "a Slack channel id looks like C0DEPLOYS"),
        ("sms:123", "'sms:123': the channel must be 'slack' or 'email', not 'sms'"),
        ("Slack:C0DEPLOYS", "the channel must be 'slack' or 'email', not 'Slack'"),
        ("email:not-an-address", "'email:not-an-address': 'not-an-address' is not an email"),
        ("email:a@x.com;b@y.com", "'a@x.com;b@y.com' is not an email address"),
        ("email:a@x.com,b@y", "'b@y' is not an email address"),
        ("email:a@@x.com", "'a@@x.com' is not an email address"),
        ("email:Alice <a@x.com>", "'alice <a@x.com>' is not an email address"),
        ("email:a b@x.com", "'a b@x.com' is not an email address"),
    ],
)
def test_bad_routes_say_what_is_wrong(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        check_route(value)


@pytest.mark.parametrize("value", ["email:,", "email: , ,"])
def test_an_email_route_without_any_address_is_rejected(value: str) -> None:
    with pytest.raises(ValueError, match="name at least one email address"):
        check_route(value)


@pytest.mark.parametrize(
    ("route", "kind", "channel", "addresses"),
    [
        ("slack:C0DEPLOYS", "slack", "C0DEPLOYS", []),
        ("email:a@x.com", "email", None, ["a@x.com"]),
        ("email:A@x.com, b@y.com", "email", None, ["a@x.com", "b@y.com"]),
    ],
)
def test_routes_taken_apart(
    route: str, kind: str, channel: str | None, addresses: list[str]
) -> None:
    assert route_kind(route) == kind
    assert slack_channel(route) == channel
    assert email_addresses(route) == addresses


def test_helpers_on_non_routes() -> None:
    assert slack_channel("slack:") is None
    assert email_addresses("") == []
    assert email_addresses("slack:C1") == []
    with pytest.raises(AssertionError, match="not a checked route: 'sms:1'"):
        route_kind("sms:1")


@pytest.mark.parametrize(
    ("origin", "route"),
    [
        (SLACK, "slack:C0DEPLOYS"),
        (EMAIL, "email:dave@example.com"),
        (
            ScheduleOrigin(name="nightly", report_to="email:ops@example.com"),
            "email:ops@example.com",
        ),
        (ScheduleOrigin(name="nightly", report_to="slack:C0OPS"), "slack:C0OPS"),
        (ScheduleOrigin(name="nightly"), None),
        (TerminalOrigin(session="s1"), None),
        (ApiOrigin(), None),
    ],
)
def test_origin_route(origin: Origin, route: str | None) -> None:
    assert origin_route(origin) == route


@pytest.mark.parametrize(
    ("origin", "route", "emailed", "expected"),
    [
        (SLACK, "slack:C0DEPLOYS", (), True),
        (SLACK, "slack:C0OTHER", (), False),
        (SLACK, "email:dave@example.com", (), False),
        (SLACK, "email:alice@example.com", ("alice@example.com",), False),  # Slack mails nobody
        (EMAIL, "email:dave@example.com", (), True),
        (EMAIL, "email:dave@example.com,alice@example.com", (), False),
        (EMAIL, "email:dave@example.com,alice@example.com", ("alice@example.com",), True),
        (EMAIL, "email:alice@example.com,bob@example.com", ("alice@example.com",), False),
        (EMAIL, "email:alice@example.com", ("alice@example.com", "bob@example.com"), True),
        (EMAIL, "slack:C0DEPLOYS", (), False),
        (ScheduleOrigin(name="n", report_to="slack:C0OPS"), "slack:C0OPS", (), True),
        (ScheduleOrigin(name="n", report_to="slack:C0OPS"), "email:o@x.com", ("o@x.com",), False),
        (ScheduleOrigin(name="n", report_to="email:o@x.com"), "email:o@x.com", (), True),
        (ScheduleOrigin(name="n"), "slack:C0OPS", (), False),
        (TerminalOrigin(session="s"), "email:a@x.com", ("a@x.com",), False),
        (ApiOrigin(), "slack:C0DEPLOYS", (), False),
    ],
)
def test_reaches(origin: Origin, route: str, emailed: tuple[str, ...], expected: bool) -> None:
    assert reaches(origin, route, emailed=frozenset(emailed)) is expected
