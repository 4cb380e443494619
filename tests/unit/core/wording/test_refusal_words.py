"""Each refusal reason in words, exactly as people have read it (and as stored threads hold
it in ``approval_refused``); the reasons as data: tests/unit/core/policy/test_refusals.py."""

from datetime import UTC, datetime

import pytest

from bot.core.thread.plan import DeployRecord, Plan, Quarantined
from bot.core.thread.refusals import (
    AlreadyApproved,
    CommitQuarantined,
    EnvironmentLocked,
    GoesBackwards,
    LiveChanged,
    NobodyMayRelease,
    NotAnApprover,
    NotAPerson,
    NotItsEnvironment,
    OwnRequest,
    PlanExpired,
    Refusal,
    ReleaseInterruptedNotAllowed,
    ReleaseNotAllowed,
    ReleaseWithoutReason,
    RollbackNoLongerUndoes,
    TagGone,
    TagMoved,
    UnknownRequester,
    UnknownService,
    UnlockNotAllowed,
)
from bot.core.wording.refusals import refusal_text

AT = datetime(2026, 11, 2, 9, 5, tzinfo=UTC)
PLAN = Plan(
    kind="deploy",
    service="backend",
    environment="production",
    version="v1.4.2",
    sha="a" * 40,
    previous_version="v1.4.1",
    previous_sha="c" * 40,
    requester="carol",
)
LIVE = DeployRecord(
    thread_id="t1",
    kind="deploy",
    version="v1.4.1",
    sha="d" * 40,
    requester="dave",
    result="succeeded",
    at="2026-11-02T09:03:00+00:00",
)
ENTRY = Quarantined(
    version="v1.4.2",
    sha="b" * 40,
    by="verification",
    reason="error rate 9%",
    at="2026-11-02T09:05:33+00:00",
)


@pytest.mark.parametrize(
    ("why", "text"),
    [
        (
            UnknownRequester(who="U0MALLORY"),
            "I don't know U0MALLORY: only people listed in deploybot's config may request "
            "deploys. Nothing was deployed.",
        ),
        (
            UnknownRequester(who="U0MALLORY", asking="release"),
            "I don't know U0MALLORY: only people listed in deploybot's config may release. "
            "Nothing was deployed.",
        ),
        (NotAPerson(who="U0X"), "U0X is not in deploybot's list of people, so cannot decide."),
        (
            PlanExpired(plan_short_id="ab12", expires_at=AT),
            "Plan #ab12 expired at 09:05 UTC; ask for the deploy again.",
        ),
        (
            NotAnApprover(
                person="erin",
                decision="reject",
                environment="production",
                approvers=("alice", "bob"),
            ),
            "erin can't reject deploys to production; approvers: alice, bob.",
        ),
        (
            OwnRequest(person="carol", environment="production"),
            "carol asked for this deploy, and production needs someone else's approval.",
        ),
        (
            AlreadyApproved(person="alice", plan_short_id="ab12"),
            "alice has already approved plan #ab12.",
        ),
        (
            UnknownService(service="billing", known=("backend", "web")),
            "unknown service 'billing'; known: backend, web",
        ),
        (
            NotItsEnvironment(service="web", environment="moon", environments=("staging",)),
            "web cannot be deployed to 'moon'; its environments: staging",
        ),
        (
            EnvironmentLocked(environment="production", who="alice", why="audit", since=AT),
            "production is locked by alice since 09:05 UTC: audit. Ask alice to "
            "'unlock production' first.",
        ),
        (
            EnvironmentLocked(environment="qa", who="bob", why="", since=AT),
            "qa is locked by bob since 09:05 UTC. Ask bob to 'unlock qa' first.",
        ),
        (
            UnlockNotAllowed(
                environment="production", locked_by="carol", approvers=("alice", "bob")
            ),
            "Only carol or an approver of production (alice, bob) can unlock production.",
        ),
        (
            UnlockNotAllowed(environment="qa", locked_by="carol", approvers=()),
            "Only carol can unlock qa.",
        ),
        (
            ReleaseInterruptedNotAllowed(environment="production", approvers=("alice",)),
            "Only an approver of production (alice) can release it after an interrupted deploy.",
        ),
        (
            NobodyMayRelease(environment="staging"),
            "Nobody may release a quarantined version in staging: the config names no release_by "
            'and no approvers for it. To allow someone, add release_by = ["<name from [people]>"] '
            "to [environments.staging].",
        ),
        (
            ReleaseNotAllowed(
                environment="qa", person="bob", releasers=("carol",), named_by="release_by"
            ),
            "Only carol may release a quarantined version in qa (release_by of qa); bob may not.",
        ),
        (
            ReleaseNotAllowed(
                environment="production",
                person="erin",
                releasers=("alice", "bob", "carol"),
                named_by="approvers",
            ),
            "Only alice, bob or carol may release a quarantined version in production (approvers "
            "of production); erin may not.",
        ),
        (
            ReleaseWithoutReason(),
            "Say why it is safe again: 'release SERVICE VERSION in ENVIRONMENT <reason>'.",
        ),
        (
            CommitQuarantined(service="backend", environment="production", entry=ENTRY),
            "backend v1.4.2 is quarantined in production (by verification at 2026-11-02 09:05 UTC: "
            "error rate 9%). Nothing was deployed; someone who may release it there can say "
            "'release backend v1.4.2 in production <reason>' to allow it again.",
        ),
        (
            CommitQuarantined(
                service="backend", environment="production", entry=ENTRY, asked="latest"
            ),
            "backend latest is quarantined in production: it is commit bbbbbbb, quarantined as "
            "v1.4.2 (by verification at 2026-11-02 09:05 UTC: error rate 9%). Nothing was "
            "deployed; someone who may release it there can say 'release backend latest in "
            "production <reason>' to allow it again.",
        ),
        (
            CommitQuarantined(
                service="backend",
                environment="qa",
                entry=ENTRY.model_copy(update={"sha": None}),
                asked="v9",
            ),
            "backend v9 is quarantined in qa: it is the same commit, quarantined as v1.4.2 (by "
            "verification at 2026-11-02 09:05 UTC: error rate 9%). Nothing was deployed; someone "
            "who may release it there can say 'release backend v9 in qa <reason>' to allow it "
            "again.",
        ),
        (
            GoesBackwards(service="web", environment="qa", live="v2", version="v1"),
            "That would roll web in qa back from v2 to v1; say 'rollback web in qa to v1' if you "
            "mean it. Nothing was deployed.",
        ),
        (TagGone(service="web", version="v1"), "the tag v1 no longer exists in web."),
        (
            TagMoved(version="v1", now_sha="e" * 40, planned_sha="a" * 40),
            "the tag v1 now points at eeeeeee, not aaaaaaa as planned.",
        ),
        (
            RollbackNoLongerUndoes(environment="qa", now_version="v3", failed_version="v2"),
            "qa is now v3, not v2, whose verification failed.",
        ),
        (
            LiveChanged(plan=PLAN, live=None, now=AT),
            "production has no successful deploy of backend now; this plan was made against "
            "v1.4.1.",
        ),
        (  # the same name on both sides: the commits differ, so they are named
            LiveChanged(plan=PLAN, live=LIVE, now=AT),
            "production is now v1.4.1 at ddddddd, deployed by dave 2 min ago; this plan was made "
            "against v1.4.1 at ccccccc.",
        ),
        (
            LiveChanged(
                plan=PLAN,
                live=LIVE.model_copy(update={"version": "v1.4.0"}),
                now=datetime(2026, 11, 5, tzinfo=UTC),
            ),
            "production is now v1.4.0, deployed by dave on 2026-11-02; this plan was made "
            "against v1.4.1.",
        ),
    ],
)
def test_each_reason_in_words(why: Refusal, text: str) -> None:
    assert refusal_text(why) == text
