"""Promotion order and soak (issue 19.1), at their boundaries with explicit times: soak counts
from the verification (from the deploy's finish without checks), a rollback or a failure
voids it, a commit that left early never soaked, and only a named person skips the time
still to wait (never a missing deploy or a failure)."""

from datetime import UTC, datetime, timedelta
from pathlib import PurePath

import pytest

from bot.core.config.config import Config, parse_config
from bot.core.errors import ConfigError
from bot.core.release.promotion import (
    NotPromotable,
    Promotable,
    SoakFacts,
    SoakMark,
    check_promotion,
    soak_writes_after_deploy,
    soak_writes_after_verification,
)
from bot.core.thread.plan import Plan

CONFIG = """
[people.alice]
slack = "U0ALICE"
[people.carol]
slack = "U0CAROL"
[services.backend]
repo = "r"
deploy = ["./d"]
environments = ["staging", "qa", "production"]
[environments.staging]
verify_s = 60
checks = [{ http = "http://127.0.0.1:1/healthz" }]
[environments.qa]
[environments.production]
requires = ["staging"]
soak_s = 1800
soak_override_by = ["alice"]
"""

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
SHA = "a" * 40


def config(text: str = CONFIG) -> Config:
    return parse_config(text, base_dir=PurePath("/"))


def mark(*, needs_verification: bool = True, at: datetime = T0) -> SoakMark:
    return SoakMark(version="v1.4.2", deployed_at=at, needs_verification=needs_verification)


def check(
    facts: SoakFacts, *, now: datetime, skip: str | None = None, person: str | None = None
) -> Promotable | NotPromotable:
    return check_promotion(
        config(),
        service="backend",
        environment="production",
        version="v1.4.2",
        facts={"staging": facts},
        now=now,
        skip_soak=skip,
        person=person,
    )


VERIFIED = SoakFacts(mark=mark(), verified_at=T0 + timedelta(minutes=2))
SOAKED_AT = T0 + timedelta(minutes=32)


@pytest.mark.parametrize(
    ("facts", "now", "ready", "says"),
    [
        (SoakFacts(), SOAKED_AT, False, "not deployed to staging"),
        (SoakFacts(mark=mark()), SOAKED_AT, False, "not verified there yet"),
        (VERIFIED, SOAKED_AT - timedelta(seconds=1), False, "ready at 12:32 UTC"),
        (VERIFIED, SOAKED_AT, True, "verified in staging 30 min ago"),
        (VERIFIED, SOAKED_AT + timedelta(hours=2), True, "verified in staging 2 h 30 min ago"),
        (
            VERIFIED.model_copy(update={"voided": "rolled_back"}),
            SOAKED_AT,
            False,
            "it was rolled back in staging",
        ),
        (
            VERIFIED.model_copy(update={"voided": "verification_failed"}),
            SOAKED_AT,
            False,
            "it failed verification in staging",
        ),
        (
            VERIFIED.model_copy(update={"left_at": SOAKED_AT - timedelta(minutes=1)}),
            SOAKED_AT + timedelta(hours=1),
            False,
            "left staging after 29 min of 30 min",
        ),
        (
            VERIFIED.model_copy(update={"left_at": SOAKED_AT + timedelta(minutes=1)}),
            SOAKED_AT + timedelta(hours=1),
            True,
            "(since replaced there)",
        ),
    ],
)
def test_where_the_version_stands_decides(
    facts: SoakFacts, now: datetime, ready: bool, says: str
) -> None:
    verdict = check(facts, now=now)
    assert isinstance(verdict, Promotable) is ready
    text = " ".join(verdict.notes) if isinstance(verdict, Promotable) else verdict.reason
    assert says in text


def test_soak_counts_from_the_finish_where_there_are_no_checks() -> None:
    facts = SoakFacts(mark=mark(needs_verification=False))
    assert isinstance(check(facts, now=T0 + timedelta(minutes=29, seconds=59)), NotPromotable)
    assert isinstance(check(facts, now=T0 + timedelta(minutes=30)), Promotable)


def test_a_refusal_says_when_and_what_to_do() -> None:
    verdict = check(VERIFIED, now=T0 + timedelta(minutes=14))
    assert isinstance(verdict, NotPromotable)
    assert verdict.ready_at == SOAKED_AT
    assert verdict.reason == (
        "backend v1.4.2 is not ready for production: in staging for 12 min of 30 min: ready "
        "at 12:32 UTC. Nothing was planned. Say 'deploy backend v1.4.2 to production when "
        "ready' to have it planned then; alice may say 'deploy backend v1.4.2 to production "
        "skip soak <reason>'."
    )


def test_only_a_named_person_skips_and_only_the_time() -> None:
    soaking = check(VERIFIED, now=T0 + timedelta(minutes=14), skip="hotfix", person="alice")
    assert isinstance(soaking, Promotable)
    assert soaking.override is not None
    assert (soaking.override.person, soaking.override.reason) == ("alice", "hotfix")
    by_carol = check(VERIFIED, now=T0 + timedelta(minutes=14), skip="hotfix", person="carol")
    assert isinstance(by_carol, NotPromotable)
    assert by_carol.reason.startswith("Only alice may skip the soak for production.")
    by_schedule = check(VERIFIED, now=T0 + timedelta(minutes=14), skip="hotfix", person=None)
    assert isinstance(by_schedule, NotPromotable)
    for blocked in (SoakFacts(), VERIFIED.model_copy(update={"voided": "failed"})):
        verdict = check(blocked, now=SOAKED_AT, skip="hotfix", person="alice")
        assert isinstance(verdict, NotPromotable)
        assert verdict.ready_at is None


def test_an_environment_without_requires_is_always_promotable() -> None:
    verdict = check_promotion(
        config(),
        service="backend",
        environment="qa",
        version="v1",
        facts={},
        now=T0,
    )
    assert verdict == Promotable()


def plan(**update: object) -> Plan:
    base = Plan(
        kind="deploy",
        service="backend",
        environment="staging",
        version="v1.4.2",
        sha=SHA,
        requester="carol",
        previous_version="v1.4.1",
        previous_sha="b" * 40,
    )
    return base.model_copy(update=update)


def test_what_each_ending_writes() -> None:
    cfg = config()
    ok = soak_writes_after_deploy(cfg, plan(), result="succeeded", at=T0)
    assert [(w.sha, w.mark is not None, w.left_at, w.voided) for w in ok] == [
        (SHA, True, None, None),
        ("b" * 40, False, T0, None),
    ]
    assert ok[0].mark is not None
    assert ok[0].mark.needs_verification  # staging has checks
    qa = soak_writes_after_deploy(cfg, plan(environment="qa"), result="succeeded", at=T0)
    assert qa[0].mark is not None
    assert not qa[0].mark.needs_verification
    back = soak_writes_after_deploy(cfg, plan(kind="rollback"), result="succeeded", at=T0)
    assert back[1].voided == "rolled_back"
    failed = soak_writes_after_deploy(cfg, plan(), result="timed_out", at=T0)
    assert [(w.sha, w.voided) for w in failed] == [(SHA, "failed")]
    assert soak_writes_after_verification(plan(), result="verified", at=T0)[0].verified_at == T0
    assert soak_writes_after_verification(plan(), result="superseded", at=T0) == []


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ('requires = ["nowhere"]', "environments.qa.requires[0]: 'nowhere' is not another"),
        ('requires = ["qa"]', "environments.qa.requires[0]: 'qa' is not another"),
        ('requires = ["production"]', "environments.qa.requires: the order comes back to qa"),
        ("soak_s = 60", "soak_s needs requires"),
        ('soak_override_by = ["alice"]', "soak_override_by needs requires"),
        ("queue_max = 0", "environments.qa.queue_max"),
    ],
)
def test_config_errors_name_the_key(extra: str, error: str) -> None:
    text = CONFIG.replace("[environments.qa]\n", f"[environments.qa]\n{extra}\n")
    if "production" in extra:
        text = text.replace('requires = ["staging"]', 'requires = ["staging", "qa"]')
    with pytest.raises(ConfigError) as raised:
        config(text)
    assert error in str(raised.value)
