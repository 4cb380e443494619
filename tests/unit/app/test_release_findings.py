"""check-config on release policy (issue 19): where promotion, soak, freezes and announcements
cannot work as the config seems to mean, one finding each, table-tested from a config that
has none; an ``info`` finding is an ``ok:`` line, and nothing here stops a process."""

from pathlib import Path
from typing import Any

import pytest

from bot.app.findings.check import check_config
from bot.app.findings.finding import Finding, refusal
from bot.app.findings.preflight import findings
from bot.app.findings.release import release_policy_findings
from bot.app.settings import Settings
from bot.core.config.config import Config, parse_config

# Clean: every service deploys to staging, which verifies it; production requires staging,
# soaks 30 min, and alice may skip the soak.
BACKEND = """
[services.backend]
repo = "repos/backend"
deploy = ["./deploy.sh", "{version}"]
environments = ["staging", "production"]
"""
PARTS = {
    "services": BACKEND,
    "staging": 'verify_s = 60\nchecks = [{ http = "https://staging.example.com/healthz" }]',
    "production": 'requires = ["staging"]\nsoak_s = 1800\nsoak_override_by = ["alice"]',
    "more": "",
}
TEMPLATE = """
[people.alice]
slack = "U0ALICE"
[people.bob]
slack = "U0BOB"

{services}

[environments.staging]
{staging}

[environments.production]
{production}

{more}
"""
FRONTEND = """
[services.frontend]
repo = "repos/frontend"
deploy = ["./deploy.sh", "{version}"]
environments = ["production"]
"""
FREEZE = """
[[freezes]]
name = "{name}"
environments = {environments}
rrule = "FREQ=WEEKLY;BYDAY=FR;BYHOUR=16"
duration_s = 230400
timezone = "Europe/Berlin"
reason = "no weekend deploys"
break_glass = {glass}
"""
SLACK = {"slack_bot_token": "xoxb-1", "slack_app_token": "xapp-1"}
EMAIL = {"smtp_host": "smtp.example.com", "email_from": "bot@example.com"}
DEPLOYING = frozenset({"worker", "run"})


def freeze(name: str, glass: str, environments: str = '["production"]') -> str:
    return FREEZE.format(name=name, glass=glass, environments=environments)


def config(**parts: str) -> Config:
    return parse_config(TEMPLATE.format(**{**PARTS, **parts}), base_dir=Path("/srv"))


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (n.upper() for n in Settings.model_fields):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env of anyone's


CASES: list[tuple[str, dict[str, str], dict[str, Any], list[Finding]]] = [
    ("clean", {}, {}, []),
    (
        "a service that skips the required environment",
        {"more": FRONTEND},
        {},
        [
            Finding(
                "problem",
                "services.frontend deploys to production, which requires staging, but not to "
                "staging: no version of frontend can ever be promoted to production; add "
                '"staging" to services.frontend.environments',
                warns=DEPLOYING,
            )
        ],
    ),
    (
        "no checks where it soaks",
        {"staging": "verify_s = 60"},
        {},
        [
            Finding(
                "info",
                "environments.production: backend's soak in staging (soak_s = 1800) counts "
                "from its deploy's finish there, not from a passed verification (no checks "
                "for backend in staging); to count from a verification, add checks and "
                "verify_s for backend in staging",
            )
        ],
    ),
    (
        "checks but no verify_s where it soaks",
        {"staging": 'checks = [{ http = "https://staging.example.com/healthz" }]'},
        {},
        [
            Finding(
                "info",
                "environments.production: backend's soak in staging (soak_s = 1800) counts "
                "from its deploy's finish there, not from a passed verification (no verify_s "
                "for backend in staging); to count from a verification, add checks and "
                "verify_s for backend in staging",
            )
        ],
    ),
    (
        "no checks and no soak: a deploy that exited 0 is all",
        {"staging": "", "production": 'requires = ["staging"]'},
        {},
        [
            Finding(
                "warning",
                "environments.production: backend needs only a deploy to staging that exited "
                "0 (no checks for backend in staging, no soak_s): a version that breaks "
                "staging can be promoted to production at once; add checks and verify_s for "
                "backend in staging, or set soak_s",
            )
        ],
    ),
    (
        "the service's own checks verify it",
        {
            "staging": "",
            "services": BACKEND + 'verify_s = 30\nchecks = [{ command = ["./smoke.sh"] }]',
        },
        {},
        [],
    ),
    (
        "nobody may skip the soak",
        {"production": 'requires = ["staging"]\nsoak_s = 1800'},
        {},
        [
            Finding(
                "info",
                "environments.production: soak_s = 1800 and no soak_override_by: nobody can "
                "say 'skip soak <reason>' there, so a fix waits out the soak like any version "
                "(rollbacks never wait); name people from [people] in soak_override_by to "
                "allow it",
            )
        ],
    ),
    (
        "a freeze nobody may break",
        {"more": freeze("holidays", "[]", '["staging", "production"]')},
        {},
        [
            Finding(
                "warning",
                "freezes[0] (holidays): break_glass is empty: nobody can deploy to staging and "
                "production while it is open, not even a fix (rollbacks still run); name "
                "people from [people] in break_glass to allow 'deploy ... break glass "
                "<reason>'",
            )
        ],
    ),
    (
        "two freezes of one environment whose glass breakers share nobody",
        {"more": freeze("weekend", '["alice"]') + freeze("release", '["bob"]')},
        {},
        [
            Finding(
                "info",
                "freezes weekend and release both hold production and their break_glass "
                "lists share nobody: while both are open, nobody can break the glass there",
            )
        ],
    ),
    (
        "two freezes of two environments whose glass breakers share nobody",
        {
            "more": freeze("weekend", '["alice"]', '["staging", "production"]')
            + freeze("release", '["bob"]', '["production", "staging"]')
        },
        {},
        [
            Finding(
                "info",
                "freezes weekend and release both hold staging and production and their "
                "break_glass lists share nobody: while both are open, nobody can break the "
                "glass there",
            )
        ],
    ),
    (
        "two freezes sharing a glass breaker",
        {"more": freeze("weekend", '["alice"]') + freeze("release", '["alice", "bob"]')},
        {},
        [],
    ),
    (
        "two freezes of different environments",
        {"more": freeze("weekend", '["alice"]') + freeze("qa", '["bob"]', '["staging"]')},
        {},
        [],
    ),
    (
        "announced to Slack without a bot token",
        {"production": PARTS["production"] + '\nannounce = "slack:C0RELEASES"'},
        {},
        [
            Finding(
                "problem",
                "environments.production.announce: slack:C0RELEASES needs SLACK_BOT_TOKEN: "
                "deploys to production would not be announced (the announcements wait in the "
                "outbox)",
                warns=DEPLOYING,
            )
        ],
    ),
    (
        "announced to Slack with a bot token",
        {"production": PARTS["production"] + '\nannounce = "slack:C0RELEASES"'},
        SLACK,
        [],
    ),
    (
        "announced by email without mail settings",
        {"staging": PARTS["staging"] + '\nannounce = "email:releases@example.com"'},
        EMAIL,
        [
            Finding(
                "problem",
                "environments.staging.announce: email:releases@example.com needs SMTP_HOST, "
                "EMAIL_FROM and DEPLOYBOT_SECRET: deploys to staging would not be announced "
                "(the announcements wait in the outbox)",
                warns=DEPLOYING,
            )
        ],
    ),
    (
        "announced by email with mail settings",
        {"staging": PARTS["staging"] + '\nannounce = "email:releases@example.com"'},
        {**EMAIL, "deploybot_secret": "s3cret-for-tokens"},
        [],
    ),
]


@pytest.mark.parametrize(
    ("parts", "values", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_each_finding(
    parts: dict[str, str], values: dict[str, Any], expected: list[Finding]
) -> None:
    loaded = config(**parts)
    settings = Settings.model_validate(values)
    found = release_policy_findings(settings, loaded)
    assert found == expected
    every = findings(settings, loaded)
    assert [f for f in every if f in found] == found  # check-config and start-up see them
    assert refusal(found, "worker") is None
    assert refusal(found, "run") is None


def test_no_config_no_findings() -> None:
    assert release_policy_findings(Settings(), None) == []


def test_check_config_prints_each_level(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A note is an ``ok:`` line, a warning a ``warning:`` one; a problem makes exit 1."""
    path = tmp_path / "deploybot.toml"
    parts = {
        "production": 'requires = ["staging"]\nsoak_s = 1800\nannounce = "slack:C0RELEASES"',
        "more": freeze("holidays", "[]"),
        "services": BACKEND.replace('["./deploy.sh", "{version}"]', '["/bin/true"]'),
    }
    path.write_text(TEMPLATE.format(**{**PARTS, **parts}))
    status = check_config(Settings(deploybot_config=str(path), redis_url=None))
    out = capsys.readouterr().out.splitlines()
    nobody_skips = "ok: environments.production: soak_s = 1800 and no soak_override_by: "
    assert [line for line in out if line.startswith(nobody_skips)], out
    said = {line.split(": ", 1)[0] for line in out if "freezes[0] (holidays)" in line}
    assert said == {"warning"}
    assert [line for line in out if line.startswith("problem:")] == [
        "problem: environments.production.announce: slack:C0RELEASES needs SLACK_BOT_TOKEN: "
        "deploys to production would not be announced (the announcements wait in the outbox)"
    ]
    assert status == 1  # that problem alone
