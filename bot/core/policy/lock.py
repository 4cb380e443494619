"""Policy for locks: what a person's lock on an environment stops (everyone's deploys but
their own), who lifts it, who releases a service held after an interrupted deploy, and who
releases a quarantined commit (``release_by``, default the approvers; never anyone at all).
Pure."""

from datetime import datetime

from bot.core.config.config import Config
from bot.core.policy.approval import Allowed, Refused
from bot.core.wording.messages import locked_text

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
        return Refused(
            reason=f"Nobody may release a quarantined version in {environment}: the config "
            f"names no release_by and no approvers for it. To allow someone, add "
            f'release_by = ["<name from [people]>"] to [environments.{environment}].'
        )
    if person not in allowed:
        env = config.environments[environment]
        key = "release_by" if env.release_by is not None else "approvers"
        return Refused(
            reason=f"Only {_names(allowed)} may release a quarantined version in "
            f"{environment} ({key} of {environment}); {person} may not."
        )
    if not reason:
        return Refused(
            reason="Say why it is safe again: 'release SERVICE VERSION in ENVIRONMENT <reason>'."
        )
    return Allowed()


def _names(people: list[str]) -> str:
    return people[0] if len(people) == 1 else f"{', '.join(people[:-1])} or {people[-1]}"
