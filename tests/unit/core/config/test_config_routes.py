"""Approval channels and escalation in the config: what loads, and errors that name the key."""

from pathlib import Path

import pytest

from bot.core.config.config import Config, parse_config
from bot.core.errors import ConfigError

BASE = """
[people.alice]
slack = "U0ALICE"
email = "Alice@Example.com"
[people.bob]
slack = "U0BOB"
email = "bob@example.com"
[people.erin]
email = "erin@example.com"
[people.zoe]
email = "zoe@example.com"
[services.backend]
repo = "r"
deploy = ["./d"]
environments = ["staging", "production"]
[environments.staging]
[environments.production]
approval = true
approvers = ["alice", "bob"]
approval_timeout_s = 1800
"""


def load(production: str = "", staging: str = "", tail: str = "") -> Config:
    text = BASE.replace("[environments.staging]\n", f"[environments.staging]\n{staging}\n")
    return parse_config(f"{text}{production}\n{tail}", base_dir=Path("/srv"), source="d.toml")


def test_no_routes_by_default() -> None:
    env = load().environments["production"]
    assert (env.approval_channel, env.escalate_to, env.escalate_approvers) == (None, None, [])
    assert env.escalate_after_s is None
    assert env.escalation_after_s is None


@pytest.mark.parametrize(
    ("lines", "channel", "escalate_to", "escalate_approvers", "after_s"),
    [
        ('approval_channel = "slack:C0DEPLOYS"', "slack:C0DEPLOYS", None, [], None),
        (
            'approval_channel = "email:BOB@example.com, alice@example.com,bob@example.com"',
            "email:bob@example.com,alice@example.com",
            None,
            [],
            None,
        ),
        ('escalate_to = "slack:C0LEADS"', None, "slack:C0LEADS", [], 900),
        ('escalate_approvers = ["erin"]', None, None, ["erin"], 900),
        (
            'escalate_to = "email:Erin@Example.com"\nescalate_approvers = ["erin"]\n'
            "escalate_after_s = 300",
            None,
            "email:erin@example.com",
            ["erin"],
            300,
        ),
        ('escalate_to = "email:alice@example.com"', None, "email:alice@example.com", [], 900),
        (
            'escalate_to = "slack:C0LEADS"\nescalate_after_s = 1799.5',
            None,
            "slack:C0LEADS",
            [],
            1799.5,
        ),
    ],
)
def test_routes_and_escalation_load(
    lines: str,
    channel: str | None,
    escalate_to: str | None,
    escalate_approvers: list[str],
    after_s: float | None,
) -> None:
    env = load(lines).environments["production"]
    assert env.approval_channel == channel
    assert env.escalate_to == escalate_to
    assert env.escalate_approvers == escalate_approvers
    assert env.escalation_after_s == after_s


def test_escalation_defaults_to_half_of_the_approval_timeout() -> None:
    text = BASE.replace("approval_timeout_s = 1800", "approval_timeout_s = 600")
    env = parse_config(f'{text}escalate_to = "slack:C0LEADS"', base_dir=Path(".")).environments[
        "production"
    ]
    assert env.escalate_after_s is None
    assert env.escalation_after_s == 300


PROD = "d.toml: environments.production"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            "escalate_after_s = 300",
            f"{PROD}: escalate_after_s needs escalate_to or escalate_approvers",
        ),
        (
            'escalate_to = "slack:C0LEADS"\nescalate_after_s = 1800',
            f"{PROD}: escalate_after_s (1800) must be shorter than approval_timeout_s (1800)",
        ),
        (
            'escalate_approvers = ["erin"]\nescalate_after_s = 5000',
            f"{PROD}: escalate_after_s (5000) must be shorter than approval_timeout_s (1800)",
        ),
        (
            'escalate_to = "slack:C0LEADS"\nescalate_after_s = 0',
            f"{PROD}.escalate_after_s: Input should be greater than 0",
        ),
        (
            'escalate_approvers = ["erin", "zed"]',
            f"{PROD}.escalate_approvers[1]: 'zed' is not in [people]",
        ),
        (
            'approval_channel = "email:erin@example.com"',
            f"{PROD}.approval_channel: erin@example.com is not the email of one of the people "
            "who may approve (alice, bob)",
        ),
        (
            'approval_channel = "email:alice@example.com,stranger@example.com"',
            f"{PROD}.approval_channel: stranger@example.com is not the email of one of the people",
        ),
        (
            'escalate_approvers = ["erin"]\nescalate_to = "email:zoe@example.com"',
            f"{PROD}.escalate_to: zoe@example.com is not the email of one of the people who may "
            "approve (alice, bob, erin)",
        ),
        (
            'escalate_to = "email:erin@example.com"',
            f"{PROD}.escalate_to: erin@example.com is not the email of one of the people who may "
            "approve (alice, bob)",
        ),
        (
            'approval_channel = "slack:lowercase"',
            f"{PROD}.approval_channel: 'slack:lowercase': a Slack channel id looks like C0DEPLOYS",
        ),
        (
            'escalate_to = "sms:123"',
            f"{PROD}.escalate_to: 'sms:123': the channel must be 'slack' or 'email', not 'sms'",
        ),
        (
            'approval_channel = "email:a@x.com;b@y.com"',
            f"{PROD}.approval_channel: 'email:a@x.com;b@y.com': 'a@x.com;b@y.com' is not an email",
        ),
        ('approval_channel = ""', f"{PROD}.approval_channel: '' is not a route"),
    ],
)
def test_production_errors_name_the_key(lines: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(lines)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("staging", "message"),
    [
        (
            'escalate_to = "slack:C0LEADS"',
            "d.toml: environments.staging: escalate_to/escalate_approvers need approval = true",
        ),
        (
            'escalate_approvers = ["erin"]',
            "d.toml: environments.staging: escalate_to/escalate_approvers need approval = true",
        ),
        (
            'approval_channel = "email:alice@example.com"',
            "d.toml: environments.staging.approval_channel: alice@example.com is not the email "
            "of one of the people who may approve (nobody)",
        ),
    ],
)
def test_escalation_needs_approval(staging: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(staging=staging)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        (
            '[[schedules]]\nname = "n"\ncron = "0 9 * * *"\ninstruction = "deploy"\n'
            'report_to = "slack:#deploys"',
            "d.toml: schedules[0].report_to: 'slack:#deploys': a Slack channel id looks like",
        ),
        (
            '[webhooks.ci]\ninstruction = "deploy"\nreport_to = "email:ops"',
            "d.toml: webhooks.ci.report_to: 'email:ops': 'ops' is not an email address",
        ),
    ],
)
def test_report_to_is_a_checked_route(tail: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tail=tail)
    assert message in str(caught.value)


def test_report_to_is_normalised() -> None:
    config = load(tail='[webhooks.ci]\ninstruction = "deploy"\nreport_to = "email:OPS@X.com"')
    assert config.webhooks["ci"].report_to == "email:ops@x.com"
