"""Quarantine policy tables: what a finished deploy and a verification quarantine, and
whether a plan's commit was quarantined meanwhile (``bot.core.policy.quarantine``)."""

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.policy.quarantine import (
    after_deploy,
    after_verification,
    quarantined_event,
    refusal_of,
)
from bot.core.policy.supersession import Superseded
from bot.core.policy.verification import Verified, VerifyFailed, verification_result
from bot.core.thread.plan import DeployRecord, Plan, Quarantined, Tag

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
GOOD, BAD, OTHER = "a" * 40, "b" * 40, "c" * 40


def plan(
    kind: str = "rollback",
    *,
    version: str = "v1.4.1",
    sha: str = GOOD,
    previous_version: str | None = "v1.4.2",
    previous_sha: str | None = BAD,
) -> Plan:
    return Plan(
        kind=kind,  # type: ignore[arg-type]
        service="backend",
        environment="production",
        version=version,
        sha=sha,
        previous_version=previous_version,
        previous_sha=previous_sha,
        requester="alice",
    )


@pytest.mark.parametrize(
    ("made", "result", "expected"),
    [
        # a rollback that ran quarantines the commit it left, by its sha
        (plan(), "succeeded", ("v1.4.2", BAD)),
        # an old plan without the live commit: the tag name alone
        (plan(previous_sha=None), "succeeded", ("v1.4.2", None)),
        (plan(), "failed", None),
        (plan(), "timed_out", None),
        (plan(), "interrupted", None),
        (plan("deploy"), "succeeded", None),  # a deploy quarantines nothing
        (plan(previous_version=None, previous_sha=None), "succeeded", None),  # nothing live
        (plan(previous_sha=GOOD), "succeeded", None),  # "back" to the same commit
    ],
)
def test_after_deploy(made: Plan, result: str, expected: tuple[str, str | None] | None) -> None:
    entry = after_deploy(made, result=result, at=NOW)  # type: ignore[arg-type]
    if expected is None:
        assert entry is None
        return
    assert entry is not None
    assert (entry.version, entry.sha) == expected
    assert entry.by == "alice"
    assert entry.reason == "rolled back to v1.4.1 by alice"
    assert entry.at == "2026-11-02T09:00:00+00:00"


FAILED = VerifyFailed(failures=(), after_s=60, rounds=2, text="x" * 400)
VERIFIED = Verified(checks=2, verify_s=60, rounds=4, text="verified")
SUPERSEDED = Superseded(text="a newer deploy started")


@pytest.mark.parametrize(
    ("verdict", "result", "quarantines"),
    [
        (VERIFIED, "verified", False),
        (FAILED, "failed", True),
        (SUPERSEDED, "superseded", False),  # decides nothing
    ],
)
def test_after_verification(
    verdict: Verified | VerifyFailed | Superseded, result: str, quarantines: bool
) -> None:
    checked = plan("deploy", version="v1.4.2", sha=BAD)
    assert verification_result(verdict) == result
    entry = after_verification(checked, verdict, at=NOW + timedelta(hours=1))
    if not quarantines:
        assert entry is None
        return
    assert entry is not None
    assert (entry.version, entry.sha, entry.by) == ("v1.4.2", BAD, "verification")
    assert entry.reason == "x" * 300  # capped
    event = quarantined_event(
        entry, service="backend", environment="production", event_id="e1", at=NOW
    )
    assert (event.id, event.version, event.by, event.reason) == (
        "e1",
        "v1.4.2",
        "verification",
        entry.reason,
    )
    assert (event.service, event.environment) == ("backend", "production")


def entry(version: str, sha: str | None) -> Quarantined:
    return Quarantined(
        version=version, sha=sha, by="verification", reason="5xx", at=NOW.isoformat()
    )


TAGS = [Tag(name="v1.4.2", sha=BAD), Tag(name="1.4.2", sha=BAD), Tag(name="v1.4.3", sha=OTHER)]
HISTORY = [
    DeployRecord(
        thread_id="t",
        kind="deploy",
        version="v1.4.0",
        sha=OTHER,
        requester="alice",
        result="succeeded",
        at=NOW.isoformat(),
    )
]


@pytest.mark.parametrize(
    ("entries", "version", "sha", "refused"),
    [
        ({}, "v1.4.2", BAD, None),
        ({BAD: entry("v1.4.2", BAD)}, "v1.4.2", BAD, "backend v1.4.2 is quarantined"),
        # another name for the same commit is refused too
        ({BAD: entry("v1.4.2", BAD)}, "1.4.2", BAD, f"it is commit {BAD[:7]}, quarantined"),
        ({BAD: entry("v1.4.2", BAD)}, "v1.4.3", OTHER, None),
        # an entry stored before commits were recorded: resolved by its tag name...
        ({"v1.4.2": entry("v1.4.2", None)}, "1.4.2", BAD, "quarantined as v1.4.2"),
        # ...and by what the history recorded under that name
        ({"v1.4.0": entry("v1.4.0", None)}, "v1.4.3", OTHER, "quarantined as v1.4.0"),
    ],
)
def test_refusal_of(
    entries: dict[str, Quarantined], version: str, sha: str, refused: str | None
) -> None:
    asked = plan("deploy", version=version, sha=sha)
    why = refusal_of(asked, entries, tags=TAGS, history=HISTORY)
    if refused is None:
        assert why is None
    else:
        assert why is not None
        assert refused in why
