"""Planning, a pure function: an intent plus what the lookups found becomes the exact plan a
human approves, or a short reason why it cannot be (``ToolFailed``), or why policy forbids it
whoever asks (``PlanRefused``: a quarantined version, a deploy that would go backwards)."""

from collections.abc import Mapping

from bot.core.deploys import current_version, last_good_before
from bot.core.errors import PlanRefused, ToolFailed
from bot.core.intents import Deploy, Rollback
from bot.core.live_policy import check_not_older
from bot.core.plan import DeployRecord, Plan, Quarantined, Tag
from bot.core.policy import Refused

__all__ = ["build_plan"]


def build_plan(
    intent: Deploy | Rollback,
    *,
    tags: list[Tag],
    history: list[DeployRecord],
    requester: str,
    quarantined: Mapping[str, Quarantined] | None = None,
) -> Plan:
    """Raise ``ToolFailed`` with a message fit for a person (and the model) when impossible:
    also when the version is quarantined for that environment (failed verification, rolled
    back), whoever asks."""
    banned = quarantined or {}
    by_name = {t.name: t for t in tags}
    live = current_version(history)
    if isinstance(intent, Deploy):
        if not tags:
            raise ToolFailed(f"{intent.service} has no tags to deploy.")
        if intent.version is None:
            tag = tags[0]
        elif intent.version in by_name:
            tag = by_name[intent.version]
        else:
            newest = ", ".join(t.name for t in tags[:3])
            raise ToolFailed(
                f"{intent.service} has no tag {intent.version}; newest: {newest}. "
                "Nothing was deployed."
            )
        if tag.name in banned:
            refusal = banned[tag.name].refusal(
                service=intent.service, environment=intent.environment
            )
            raise PlanRefused(refusal)
        verdict = check_not_older(
            service=intent.service, environment=intent.environment, version=tag.name, live=live
        )
        if isinstance(verdict, Refused):
            raise PlanRefused(verdict.reason)
        kind = "deploy"
    else:
        target = intent.version or last_good_before(history, skip=banned)
        if target is None:
            raise ToolFailed(
                f"There is no earlier successful deploy of {intent.service} to "
                f"{intent.environment} to roll back to. Nothing was changed."
            )
        if target not in by_name:
            raise ToolFailed(f"{intent.service} has no tag {target} to roll back to.")
        if target in banned:
            raise PlanRefused(
                banned[target].refusal(service=intent.service, environment=intent.environment)
            )
        tag = by_name[target]
        kind = "rollback"
    return Plan(
        kind=kind,
        service=intent.service,
        environment=intent.environment,
        version=tag.name,
        sha=tag.sha,
        subject=tag.subject,
        previous_version=live,
        requester=requester,
    )
