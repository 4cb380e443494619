"""Who may lift a quarantine (issue 15.5): someone the config names for it (``release_by``,
default the environment's approvers), in every environment, never "anyone in [people]"; the
refusal says who may, or how to allow someone; check-config warns where nobody could."""

from pathlib import Path

import pytest

from bot.app.findings.preflight import findings
from bot.app.settings import Settings
from bot.core.config.config import Config, parse_config
from bot.core.errors import ConfigError
from bot.core.policy.approval import Allowed, Refused
from bot.core.policy.lock import check_release, releasers
from bot.core.thread.refusals import NobodyMayRelease, ReleaseNotAllowed

CONFIG = """
[people.alice]
slack = "U0ALICE"
[people.bob]
slack = "U0BOB"
[people.carol]
slack = "U0CAROL"
[services.backend]
repo = "r"
deploy = ["./d"]
environments = ["staging", "production", "qa", "sandbox"]
[environments.staging]
[environments.production]
approval = true
approvers = ["alice", "bob"]
[environments.qa]
release_by = ["carol"]
[environments.sandbox]
approval = true
approvers = ["alice"]
release_by = []
"""


def config(text: str = CONFIG) -> Config:
    return parse_config(text, base_dir=Path("/srv"), source="deploybot.toml")


@pytest.mark.parametrize(
    ("environment", "person", "allowed"),
    [
        ("staging", "carol", False),  # no approval, nobody named: nobody, not everyone
        ("staging", "alice", False),
        ("production", "alice", True),  # default: the approvers
        ("production", "carol", False),
        ("qa", "carol", True),  # release_by names her
        ("qa", "alice", False),
        ("sandbox", "alice", False),  # release_by = []: nobody, not even an approver
    ],
)
def test_who_may_release(environment: str, person: str, allowed: bool) -> None:
    verdict = check_release(config(), environment=environment, person=person, reason="fixed")
    assert isinstance(verdict, Allowed) is allowed, verdict


def test_the_refusal_says_who_may_or_how_to_allow_someone() -> None:
    cfg = config()
    nobody = check_release(cfg, environment="staging", person="carol", reason="fixed")
    assert nobody == Refused(why=NobodyMayRelease(environment="staging"))
    assert nobody.reason == (
        "Nobody may release a quarantined version in staging: the config names no "
        'release_by and no approvers for it. To allow someone, add release_by = ["<name from '
        '[people]>"] to [environments.staging].'
    )
    others = check_release(cfg, environment="production", person="carol", reason="fixed")
    assert others == Refused(
        why=ReleaseNotAllowed(
            environment="production",
            person="carol",
            releasers=("alice", "bob"),
            named_by="approvers",
        )
    )
    assert others.reason == (
        "Only alice or bob may release a quarantined version in production (approvers "
        "of production); carol may not."
    )
    named = check_release(cfg, environment="qa", person="bob", reason="fixed")
    assert isinstance(named, Refused)
    assert named.reason.startswith("Only carol may release a quarantined version in qa (release_by")
    no_reason = check_release(cfg, environment="qa", person="carol", reason=None)
    assert isinstance(no_reason, Refused)
    assert "Say why it is safe again" in no_reason.reason
    assert releasers(cfg, environment="production") == ["alice", "bob"]


def test_release_by_names_people_and_the_error_names_the_key() -> None:
    with pytest.raises(ConfigError) as wrong:
        config(CONFIG.replace('release_by = ["carol"]', 'release_by = ["carol", "mallory"]'))
    assert "environments.qa.release_by[1]: 'mallory' is not in [people]" in str(wrong.value)
    with pytest.raises(ConfigError, match=r"environments\.qa\.release_by"):
        config(CONFIG.replace('release_by = ["carol"]', 'release_by = "carol"'))


def test_check_config_warns_where_verification_can_quarantine_but_nobody_may_release() -> None:
    checks = 'verify_s = 60\nchecks = [{ http = "https://example.com/healthz" }]\n'
    text = (
        CONFIG.replace("[environments.staging]\n", f"[environments.staging]\n{checks}")
        .replace('release_by = ["carol"]\n', f'release_by = ["carol"]\n{checks}')
        .replace("release_by = []\n", f"release_by = []\n{checks}")
    )
    found = [f.text for f in findings(Settings(), config(text)) if "release" in f.text]
    assert [line.split(":")[0] for line in found] == [
        "environments.staging",
        "environments.sandbox",
    ]  # qa names carol; production has no checks
    assert 'add release_by = ["<name from [people]>"] to [environments.staging]' in found[0]
    assert [f for f in findings(Settings(), config()) if "release" in f.text] == []
