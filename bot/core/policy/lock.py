"""Policy for locks: what a person's lock on an environment stops (everyone's deploys but
their own), who lifts it, who releases a service held after an interrupted deploy, and who
releases a quarantined commit (``release_by``, default the approvers; never anyone at all).
Pure."""

from datetime import datetime
from typing import Literal

from bot.core.config.config import Config
from bot.core.policy.approval import Allowed, Refused
from bot.core.thread.refusals import (
    EnvironmentLocked,
    NobodyMayRelease,
    ReleaseInterruptedNotAllowed,
    ReleaseNotAllowed,
    ReleaseWithoutReason,
    UnlockNotAllowed,
)

__all__ = [
    "check_frozen",
    "check_release",
    "check_release_interrupted",
    "check_unlock",
    "releasers",
]


def check_frozen(
    *,
    environment: str,
    locked_by: str | None,
    why: str,
    since: datetime | None,
    requester: str,
) -> Allowed | Refused:
    """A person's lock on ``environment`` refuses everyone's deploys there but their own."""
    if locked_by is None or since is None or locked_by == requester:
        return Allowed()
    return Refused(
        why=EnvironmentLocked(environment=environment, who=locked_by, why=why, since=since)
    )


def check_unlock(
    config: Config, *, environment: str, person: str, locked_by: str
) -> Allowed | Refused:
    """A person's lock on an environment is lifted by whoever set it or by its approvers."""
    approvers = config.environments[environment].approvers
    if person == locked_by or person in approvers:
        return Allowed()
    return Refused(
        why=UnlockNotAllowed(
            environment=environment, locked_by=locked_by, approvers=tuple(approvers)
        )
    )


def check_release_interrupted(
    config: Config, *, environment: str, person: str
) -> Allowed | Refused:
    """After a deploy's outcome became unknown, its service stays held in ``environment``
    until someone who could approve a deploy there has looked (anyone in [people] where
    the environment needs no approval)."""
    env = config.environments[environment]
    if person in env.approvers or (not env.approval and person in config.people):
        return Allowed()
    return Refused(
        why=ReleaseInterruptedNotAllowed(environment=environment, approvers=tuple(env.approvers))
    )


def releasers(config: Config, *, environment: str) -> list[str]:
    """Who may lift a quarantine in ``environment``: its ``release_by`` when the config
    names one, else its approvers. Nobody when neither names anyone: not "anyone in
    [people]", even where deploys need no approval (a quarantine is a verdict on a commit,
    lifting it is a decision someone must be named for)."""
    env = config.environments[environment]
    return list(env.release_by if env.release_by is not None else env.approvers)


def check_release(
    config: Config, *, environment: str, person: str, reason: str | None
) -> Allowed | Refused:
    """A quarantined commit is released by someone the config names for it (``release_by``,
    default the environment's approvers), in every environment, with a reason for the
    audit. The one check every channel's ``release`` goes through."""
    allowed = releasers(config, environment=environment)
    if not allowed:
        return Refused(why=NobodyMayRelease(environment=environment))
    if person not in allowed:
        env = config.environments[environment]
        key: Literal["release_by", "approvers"] = (
            "release_by" if env.release_by is not None else "approvers"
        )
        return Refused(
            why=ReleaseNotAllowed(
                environment=environment, person=person, releasers=tuple(allowed), named_by=key
            )
        )
    if not reason:
        return Refused(why=ReleaseWithoutReason())
    return Allowed()
