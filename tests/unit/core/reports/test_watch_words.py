"""Sentences the shell wrote before they moved to the wording package (a running deploy's
watch, a GitHub target without credentials, a superseding start, a set-aside entry), pinned
exactly as people read them."""

import pytest

from bot.core.reports.deploy_watch import (
    cancel_asked_reason,
    lock_lost_reason,
    not_dispatched_tail,
    redis_unreachable_reason,
    stopped_tail,
)
from bot.core.thread.plan import Plan
from bot.core.wording.deploys import no_github_credentials_tail, superseded_by_text
from bot.core.wording.set_aside import set_aside_text

PLAN = Plan(
    kind="deploy",
    service="backend",
    environment="production",
    version="v1.4.2",
    sha="a" * 40,
    requester="alice",
)
ID = PLAN.short_id


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        (
            not_dispatched_tail(PLAN),
            "deploybot: the lock on backend in production could not be kept before the "
            "dispatch; nothing was dispatched.",
        ),
        (
            redis_unreachable_reason(PLAN, unreachable_s=31.6),
            "Redis was unreachable for 32 s, so the lock on backend in production could not "
            "be kept",
        ),
        (
            lock_lost_reason(PLAN),
            "the lock on backend in production was lost (it expired or was removed, e.g. by a "
            "Redis restart without persistence)",
        ),
        (
            cancel_asked_reason("the lock was lost"),
            "deploybot: the lock was lost; the GitHub run was asked to cancel and may still "
            "be running.",
        ),
        (
            stopped_tail(PLAN, reason="the lock was lost"),
            "deploybot: stopped the command before its lock could expire: the lock was lost. "
            "Check production: the deploy did not finish.",
        ),
        (
            no_github_credentials_tail(PLAN),
            "backend deploys through a GitHub workflow, but neither GITHUB_TOKEN nor a GitHub "
            "App is set; nothing was dispatched.",
        ),
        (
            superseded_by_text(PLAN, thread_id="t-9"),
            f"deploy of backend v1.4.2 to production started for alice (plan #{ID}, thread t-9)",
        ),
        (
            set_aside_text("failed 5 times"),
            "I could not process a message in this thread (failed 5 times); it was set aside "
            "for an operator. Nothing was deployed because of it.",
        ),
    ],
)
def test_words_unchanged(said: str, expected: str) -> None:
    assert said == expected
