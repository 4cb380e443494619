"""The re-check before a plan runs, one pure decision (bot.core.policy.drift.recheck): the
order of refusals and whether the plan is made again, from hand-built facts."""

from datetime import UTC, datetime

import pytest

from bot.core.policy.approval import Allowed
from bot.core.policy.drift import Drifted, recheck
from bot.core.thread.plan import DeployRecord, Plan, Quarantined, Tag

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
OLD, NEW, OTHER = "1" * 40, "2" * 40, "3" * 40
DEPLOY = Plan(
    kind="deploy",
    service="backend",
    environment="staging",
    version="v1.1.0",
    sha=NEW,
    previous_version="v1.0.0",
    previous_sha=OLD,
    requester="carol",
)
ROLLBACK = Plan(
    kind="rollback",
    service="backend",
    environment="staging",
    version="v1.0.0",
    sha=OLD,
    previous_version="v1.1.0",
    previous_sha=NEW,
    requester="carol",
)
FAILED = DEPLOY  # the deploy whose verification failed, undone by ROLLBACK


def live(version: str, sha: str) -> DeployRecord:
    return DeployRecord(
        thread_id="t0",
        kind="deploy",
        version=version,
        sha=sha,
        requester="dave",
        result="succeeded",
        at="2026-11-02T08:50:00+00:00",
    )


TAGS = [Tag(name="v1.0.0", sha=OLD), Tag(name="v1.1.0", sha=NEW)]
MOVED = [Tag(name="v1.0.0", sha=OLD), Tag(name="v1.1.0", sha=OTHER)]
AT_OLD, AT_NEW, AT_OTHER = [live("v1.0.0", OLD)], [live("v1.1.0", NEW)], [live("v1.2.0", OTHER)]
BANNED_NEW = {
    NEW: Quarantined(version="v1.1.0", sha=NEW, by="verification", reason="5xx", at=NOW.isoformat())
}
BANNED_OLD = {
    OLD: Quarantined(version="v1.0.0", sha=OLD, by="verification", reason="5xx", at=NOW.isoformat())
}


def verdict(
    plan: Plan,
    *,
    history: list[DeployRecord],
    tags: list[Tag] | None,
    banned: dict[str, Quarantined] | None = None,
    failed: Plan | None = None,
) -> Allowed | Drifted:
    return recheck(
        plan,
        history=history,
        quarantined=banned or {},
        tags=tags,
        tags_error="git timed out",
        failed=failed,
        now=NOW,
    )


@pytest.mark.parametrize(
    ("got", "reason_starts", "remake"),
    [
        # Unchanged world: runs.
        (verdict(DEPLOY, history=AT_OLD, tags=TAGS), None, None),
        (verdict(ROLLBACK, history=AT_NEW, tags=TAGS, failed=FAILED), None, None),
        # Tags unreadable: refused first, never remade (even when the world also changed).
        (verdict(DEPLOY, history=AT_OTHER, tags=None), "I could not re-read backend's tags", False),
        # Live state changed: remade for a fresh approval...
        (verdict(DEPLOY, history=AT_OTHER, tags=TAGS), "staging is now v1.2.0", True),
        (verdict(DEPLOY, history=AT_OLD, tags=MOVED), "the tag v1.1.0 now points at", True),
        # ... even when the commit is also quarantined (the live state is judged first) ...
        (
            verdict(DEPLOY, history=AT_OTHER, tags=TAGS, banned=BANNED_NEW),
            "staging is now v1.2.0",
            True,
        ),
        # ... but never the bot's own rollback.
        (
            verdict(ROLLBACK, history=AT_OTHER, tags=TAGS, failed=FAILED),
            "staging is now v1.2.0",
            False,
        ),
        # Quarantined after approval, world unchanged: refused, not remade.
        (
            verdict(DEPLOY, history=AT_OLD, tags=TAGS, banned=BANNED_NEW),
            "backend v1.1.0 is quarantined in staging",
            False,
        ),
        (
            verdict(ROLLBACK, history=AT_NEW, tags=TAGS, banned=BANNED_OLD, failed=FAILED),
            "backend v1.0.0 is quarantined in staging",
            False,
        ),
        # The bot's rollback no longer undoes the failed deploy: refused, not remade.
        (
            verdict(
                ROLLBACK,
                history=AT_NEW,
                tags=TAGS,
                failed=FAILED.model_copy(update={"sha": OTHER, "version": "v1.2.0"}),
            ),
            "staging is now v1.1.0, not v1.2.0",
            False,
        ),
    ],
)
def test_recheck_order(
    got: Allowed | Drifted, reason_starts: str | None, remake: bool | None
) -> None:
    if reason_starts is None:
        assert got == Allowed()
        return
    assert isinstance(got, Drifted)
    assert got.reason.startswith(reason_starts), got.reason
    assert got.remake is remake


def test_unreadable_tags_say_why() -> None:
    got = verdict(DEPLOY, history=AT_OLD, tags=None)
    assert got == Drifted(
        reason="I could not re-read backend's tags to check them (git timed out). "
        "Ask again when the repository answers.",
        remake=False,
    )
