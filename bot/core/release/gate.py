"""Release policy as one decision (invariant 9): may this plan be made, or run, now?

Asked twice, with the same rules, like the live-state re-check: when the plan is made
(``bot.shell.loop.turn``) and under the pair's lock just before it runs
(``bot.shell.deploy.recheck``). In order:

1. A freeze window covering ``now`` (``bot.core.release.freezes``) holds the plan until it
   ends, unless a person the freeze names said ``break glass <reason>`` (then the plan
   carries the override; the environment's approvals still apply). Under the lock, a plan
   made with a break-glass override passes the freeze it was made for and any other.
2. Promotion order and soak (``bot.core.release.promotion``) hold the plan until the version
   is ready where the environment ``requires`` it, unless a person named in
   ``soak_override_by`` said ``skip soak <reason>`` (only the time still to wait).

Rollbacks are held by neither: a rollback puts back what was live, and stopping it would
keep a failing version live through a freeze or a soak. The words are the policies' own.
"""

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.core.config.config import Config
from bot.core.policy.approval import Allowed, Refused
from bot.core.release.freezes import GlassBroken, check_freeze
from bot.core.release.promotion import NotPromotable, SoakFacts, check_promotion
from bot.core.thread.plan import Override, Plan
from bot.core.thread.refusals import CancelNotAllowed
from bot.core.thread.release_events import DeployQueued
from bot.core.thread.thread import Thread

__all__ = [
    "VERIFICATION_POLL_S",
    "Cleared",
    "Held",
    "WaitingDeploy",
    "check_cancel",
    "check_release_policy",
    "waiting_deploy",
]

#: How soon a ``when ready`` wait looks again while the version's verification is running
#: in an environment it must pass first (its end is not known in advance).
VERIFICATION_POLL_S = 60


class Cleared(BaseModel):
    """The plan may be made (run): with these ``overrides``; ``notes`` say where the version
    stands (shown to the approvers)."""

    model_config = ConfigDict(frozen=True)

    overrides: tuple[Override, ...] = ()
    notes: list[str] = []


class Held(BaseModel):
    """Not now: ``reason`` says why and what to do; ``retry_at``: when it may be (None: time
    alone will not make it so, e.g. the version never reached staging)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["freeze", "soak"]
    reason: str
    retry_at: datetime | None
    summary: str = ""  # why alone (a wait says what happens next itself)


def check_release_policy(
    config: Config,
    *,
    plan: Plan,
    facts: Mapping[str, SoakFacts],
    now: datetime,
    person: str | None,
    skip_soak: str | None = None,
    break_glass: str | None = None,
) -> Cleared | Held:
    """``facts``: the plan's commit in each environment its own requires; ``person``: the
    [people] name of the requester (None: a schedule, a webhook, someone unknown);
    ``skip_soak``/``break_glass``: the reasons given with those words (a plan being re-checked
    passes its recorded overrides' reasons)."""
    if plan.kind == "rollback":
        return Cleared()
    recorded = {o.kind: o for o in plan.overrides}
    glass, soak = recorded.get("break_glass"), recorded.get("skip_soak")
    overrides: list[Override] = []
    frozen = check_freeze(
        config,
        environment=plan.environment,
        at=now,
        person=glass.person if glass else person,
        break_glass=glass.reason if glass else break_glass,
    )
    if isinstance(frozen, GlassBroken):
        overrides.append(Override(kind="break_glass", person=frozen.person, reason=frozen.reason))
    elif not isinstance(frozen, Allowed):
        return Held(kind="freeze", reason=frozen.reason_text, retry_at=frozen.window.ends_at)
    promotion = check_promotion(
        config,
        service=plan.service,
        environment=plan.environment,
        version=plan.version,
        facts=facts,
        now=now,
        skip_soak=soak.reason if soak else skip_soak,
        person=soak.person if soak else person,
    )
    if isinstance(promotion, NotPromotable):
        retry_at = promotion.ready_at
        if promotion.waits_for_verification:
            retry_at = now + timedelta(seconds=VERIFICATION_POLL_S)
        return Held(
            kind="soak", reason=promotion.reason, retry_at=retry_at, summary=promotion.summary
        )
    if promotion.override is not None:
        overrides.append(promotion.override)
    return Cleared(overrides=tuple(overrides), notes=promotion.notes)


def check_cancel(
    config: Config, *, environment: str, person: str | None, requester: str
) -> Allowed | Refused:
    """A waiting plan (in the pair's line, or ``when ready``) is taken out by whoever asked
    for it or by an approver of its environment; nobody else, and nobody unknown."""
    approvers = config.environments[environment].approvers
    if person is not None and (person == requester or person in approvers):
        return Allowed()
    return Refused(
        why=CancelNotAllowed(
            environment=environment, requester=requester, approvers=tuple(approvers)
        )
    )


class WaitingDeploy(BaseModel):
    """What a thread waits to deploy now, as far as a cancel is concerned: the plan in the
    pair's line (``plan``), or a ``when ready`` request not yet planned (``plan`` None)."""

    model_config = ConfigDict(frozen=True)

    environment: str
    requester: str
    plan: Plan | None


def waiting_deploy(thread: Thread) -> WaitingDeploy | None:
    """The deploy ``thread`` waits for (in line, or for its soak or a freeze to end), or None:
    nothing waits, or its queued plan is not in the thread. The one answer the loop's
    ``cancel`` and the API's synchronous 403 both take."""
    wait = thread.waiting()
    if wait is None:
        return None
    if isinstance(wait, DeployQueued):
        plan = thread.plan(wait.plan_hash)
        if plan is None:
            return None
        return WaitingDeploy(environment=plan.environment, requester=plan.requester, plan=plan)
    return WaitingDeploy(environment=wait.intent.environment, requester=wait.requester, plan=None)
