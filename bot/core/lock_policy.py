"""Policy for locks: what a person's lock on an environment stops (everyone's deploys but
their own), who lifts it, who releases a service held after an interrupted deploy, and who
releases a quarantined version. Pure."""

from datetime import datetime

from bot.core.config import Config
from bot.core.policy import Allowed, Refused
from bot.core.wording import locked_text

__all__ = ["check_frozen", "check_release", "check_release_interrupted", "check_unlock"]


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
        reason=locked_text(environment, who=locked_by, why=why, since=since)
        + f" Ask {locked_by} to 'unlock {environment}' first."
    )


def check_unlock(
    config: Config, *, environment: str, person: str, locked_by: str
) -> Allowed | Refused:
    """A person's lock on an environment is lifted by whoever set it or by its approvers."""
    approvers = config.environments[environment].approvers
    if person == locked_by or person in approvers:
        return Allowed()
    others = f" or an approver of {environment} ({', '.join(approvers)})" if approvers else ""
    return Refused(reason=f"Only {locked_by}{others} can unlock {environment}.")


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
        reason=f"Only an approver of {environment} ({', '.join(env.approvers)}) can release "
        "it after an interrupted deploy."
    )


def check_release(
    config: Config, *, environment: str, person: str, reason: str | None
) -> Allowed | Refused:
    """A quarantined version is released by an approver of the environment (anyone in
    [people] where it needs no approval), with a reason for the audit."""
    env = config.environments[environment]
    if not (person in env.approvers or (not env.approval and person in config.people)):
        return Refused(
            reason=f"Only an approver of {environment} ({', '.join(env.approvers)}) can "
            "release a quarantined version there."
        )
    if not reason:
        return Refused(
            reason="Say why it is safe again: 'release SERVICE VERSION in ENVIRONMENT <reason>'."
        )
    return Allowed()
