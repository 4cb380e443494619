"""Promotion order and soak (invariant 9), the pure part.

An environment may require earlier ones (``requires = ["staging"]``, ``soak_s = 1800``): a
version, by its commit, is planned there only when it was deployed to each of them, verified
there where checks are configured, and stayed live there, unrolled-back, for ``soak_s``.

What each environment knows of a commit is kept per pair by the shell
(``bot.shell.world.soak``) as separate hash fields, so every change is a write and never a
read-modify-write: ``SoakFacts`` is one commit's fields read back. The rules:

- Soak counts from a successful verification of the commit there (``verified_at``), or from
  its deploy's finish where the environment has no checks (``deployed_at``).
- It ends when another commit replaces it there (``left_at``): a commit that left before its
  soak was done never finished soaking; one that left after it keeps it.
- A failed or interrupted deploy of the commit there, a failed verification, or a rollback
  away from it voids it (``voided``), until it is deployed there again.
- Deploying the commit there again starts afresh (the shell clears the other fields).

``skip soak <reason>`` by a person named in ``soak_override_by`` sets aside only the time
still to wait (and a verification still running); never a missing deploy, a failure or a
rollback. ``soak_writes_after_*`` say what to store when a deploy or a verification ends.
"""

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.core.config.config import Config
from bot.core.policy.verification import ToVerify, verification_for
from bot.core.ports.board import SoakProgress
from bot.core.thread.plan import Override, Plan
from bot.core.wording.promotion import (
    Standing,
    not_promotable_text,
    skip_not_allowed_text,
    standing_text,
)

__all__ = [
    "NotPromotable",
    "Promotable",
    "SoakFacts",
    "SoakMark",
    "SoakWrite",
    "Void",
    "check_promotion",
    "soak_progress",
    "soak_writes_after_deploy",
    "soak_writes_after_verification",
]

Void = Literal["failed", "interrupted", "verification_failed", "rolled_back"]


class SoakMark(BaseModel):
    """A commit deployed to one environment: the hash field named by its sha."""

    model_config = ConfigDict(frozen=True)

    version: str
    deployed_at: datetime
    needs_verification: bool


class SoakFacts(BaseModel):
    """One commit's fields in one environment, as read back (all None: never deployed)."""

    model_config = ConfigDict(frozen=True)

    mark: SoakMark | None = None
    verified_at: datetime | None = None
    left_at: datetime | None = None
    voided: Void | None = None


class SoakWrite(BaseModel):
    """What to store for ``sha`` in one environment: a fresh mark (clearing the rest), or
    one of the later fields."""

    model_config = ConfigDict(frozen=True)

    sha: str
    mark: SoakMark | None = None
    verified_at: datetime | None = None
    left_at: datetime | None = None
    voided: Void | None = None


class Promotable(BaseModel):
    """The plan may be made: ``notes`` say where the version stands (for the plan and the
    card); ``override`` is the skip-soak that made it so, when one did."""

    model_config = ConfigDict(frozen=True)

    notes: list[str] = []
    override: Override | None = None


class NotPromotable(BaseModel):
    """Not yet, or not at all: ``reason`` says why and what to do (``summary``: why alone,
    for a wait that already says what happens next); ``ready_at`` is when soak allows it
    (None: time alone will not, e.g. never deployed there); ``waits_for_verification``: it
    will be ready some time after its verification there succeeds."""

    model_config = ConfigDict(frozen=True)

    reason: str
    summary: str = ""
    ready_at: datetime | None = None
    waits_for_verification: bool = False


def soak_writes_after_deploy(
    config: Config, plan: Plan, *, result: str, at: datetime
) -> list[SoakWrite]:
    """The writes when ``plan``'s deploy or rollback ends with ``result`` at ``at`` (soak
    then waits for its verification where the pair has checks)."""
    wanted = verification_for(config, service=plan.service, environment=plan.environment)
    # Only deploys are verified (bot.core.policy.timers): a rollback's soak counts from its
    # finish, or the version it put back would wait for a verification that never comes.
    needs_verification = isinstance(wanted, ToVerify) and plan.kind == "deploy"
    if result != "succeeded":
        reason: Void = "interrupted" if result == "interrupted" else "failed"
        return [SoakWrite(sha=plan.sha, voided=reason)]
    fresh = SoakMark(version=plan.version, deployed_at=at, needs_verification=needs_verification)
    writes = [SoakWrite(sha=plan.sha, mark=fresh)]
    if plan.previous_sha is not None and plan.previous_sha != plan.sha:
        left: Void | None = "rolled_back" if plan.kind == "rollback" else None
        writes.append(SoakWrite(sha=plan.previous_sha, left_at=at, voided=left))
    return writes


def soak_writes_after_verification(plan: Plan, *, result: str, at: datetime) -> list[SoakWrite]:
    """The writes when ``plan``'s verification ends (``superseded`` decides nothing)."""
    match result:
        case "verified":
            return [SoakWrite(sha=plan.sha, verified_at=at)]
        case "failed":
            return [SoakWrite(sha=plan.sha, voided="verification_failed")]
        case _:
            return []


def _standing(facts: SoakFacts, *, soak_s: float, now: datetime) -> Standing:
    """Where one commit stands in one required environment."""
    mark = facts.mark
    if mark is None:
        return Standing(kind="absent")
    if facts.voided is not None:
        return Standing(kind="voided", voided=facts.voided, at=facts.left_at or mark.deployed_at)
    since = facts.verified_at if mark.needs_verification else mark.deployed_at
    if since is None:
        return Standing(kind="unverified", at=mark.deployed_at, soak_s=soak_s)
    ready_at = since + timedelta(seconds=soak_s)
    if facts.left_at is not None and facts.left_at < ready_at:
        return Standing(kind="left_early", at=since, until=facts.left_at, soak_s=soak_s)
    if ready_at > now:
        return Standing(kind="soaking", at=since, until=ready_at, soak_s=soak_s)
    kind: Literal["verified", "live"] = "verified" if mark.needs_verification else "live"
    return Standing(kind=kind, at=since, until=facts.left_at)


def soak_progress(facts: SoakFacts, *, version: str, soak_s: float) -> SoakProgress:
    """Where the live commit of an environment stands in its soak, for the App Home."""
    mark = facts.mark
    if facts.voided is not None:
        return SoakProgress(version=version, note=f"does not count: {facts.voided}")
    if mark is None:
        return SoakProgress(version=version, note="not recorded")
    since = facts.verified_at if mark.needs_verification else mark.deployed_at
    if since is None:
        return SoakProgress(version=version, note="not verified yet")
    return SoakProgress(version=version, since=since, done_at=since + timedelta(seconds=soak_s))


def check_promotion(
    config: Config,
    *,
    service: str,
    environment: str,
    version: str,
    facts: Mapping[str, SoakFacts],
    now: datetime,
    skip_soak: str | None = None,
    person: str | None = None,
) -> Promotable | NotPromotable:
    """Whether the commit behind ``version`` may be planned for ``environment``.

    ``facts``: that commit's fields in each required environment (a missing one: never
    deployed there); ``skip_soak``: the reason given with ``skip soak``; ``person``: the
    [people] name of whoever asked (None: a schedule, a webhook, someone not in [people])."""
    env = config.environments[environment]
    if not env.requires:
        return Promotable()
    standings = {
        required: _standing(facts.get(required, SoakFacts()), soak_s=env.soak_s, now=now)
        for required in env.requires
    }
    notes = [standing_text(name, s, now=now) for name, s in standings.items()]
    waiting = {n: s for n, s in standings.items() if s.kind in ("soaking", "unverified")}
    blocked = {n: s for n, s in standings.items() if s.kind in ("absent", "voided", "left_early")}
    if not waiting and not blocked:
        return Promotable(notes=notes)
    allowed = env.soak_override_by
    if not blocked and skip_soak is not None and person is not None and person in allowed:
        override = Override(kind="skip_soak", person=person, reason=skip_soak)
        return Promotable(notes=notes, override=override)
    reason = not_promotable_text(
        service=service,
        version=version,
        environment=environment,
        notes=notes,
        can_wait=not blocked,
        override_by=allowed,
        requires=env.requires,
    )
    if skip_soak is not None and not blocked:
        reason = f"{skip_not_allowed_text(environment, allowed)} {reason}"
    summary = f"{service} {version} is not ready for {environment}: {'; '.join(notes)}."
    if blocked:
        return NotPromotable(reason=reason, summary=summary)
    times = [s.until for s in waiting.values() if s.kind == "soaking" and s.until is not None]
    unverified = any(s.kind == "unverified" for s in waiting.values())
    return NotPromotable(
        reason=reason,
        summary=summary,
        ready_at=None if unverified or not times else max(times),
        waits_for_verification=unverified,
    )
