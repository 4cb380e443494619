"""Planning, a pure function: an intent plus what the lookups found becomes the exact plan a
human approves, or a short reason why it cannot be (``ToolFailed``), or why policy forbids it
whoever asks (``PlanRefused``: a quarantined commit, a deploy that would go backwards).

A version is its commit: the tag asked for is resolved to its sha, and quarantine, "the
newest tag", rollback targets and "is it older than live" are decided on that sha (and on
git ancestry, ``Lineage``, read by the shell for the chosen commit: ``planned_commit`` says
which one before ``build_plan`` is called with it).
"""

from collections.abc import Mapping
from typing import Literal

from bot.core.errors import PlanRefused, ToolFailed
from bot.core.policy.approval import Refused
from bot.core.policy.deploys import last_good_before, live_record
from bot.core.policy.live import check_not_older
from bot.core.policy.quarantine import banned_commits
from bot.core.thread.intents import Deploy, Rollback
from bot.core.thread.plan import DeployRecord, Lineage, Plan, Quarantined, Tag
from bot.core.thread.refusals import CommitQuarantined
from bot.core.wording.refusals import quarantined_text

__all__ = ["build_plan", "planned_commit"]


def _newest(
    intent: Deploy, tags: list[Tag], banned: Mapping[str, Quarantined]
) -> tuple[Tag, list[Tag]]:
    """The newest tag whose commit is not quarantined, and the newer ones passed over."""
    for i, tag in enumerate(tags):
        if tag.sha not in banned:
            return tag, tags[:i]
    newest = tags[0]
    refusal = quarantined_text(
        CommitQuarantined(
            service=intent.service,
            environment=intent.environment,
            entry=banned[newest.sha],
            asked=newest.name,
        )
    )
    raise PlanRefused(f"{refusal} Every older tag is quarantined there too.")


def _rollback_target(
    intent: Rollback,
    tags: list[Tag],
    history: list[DeployRecord],
    banned: Mapping[str, Quarantined],
) -> Tag:
    """The tag a rollback deploys: the one asked for, or one naming the commit of the last
    good deploy (not quarantined, not the failing one) as it was deployed."""
    if intent.version is not None:
        tag = next((t for t in tags if t.name == intent.version), None)
        if tag is None:
            raise ToolFailed(f"{intent.service} has no tag {intent.version} to roll back to.")
        return tag
    record = last_good_before(history, skip=banned)
    if record is None:
        raise ToolFailed(
            f"There is no earlier successful deploy of {intent.service} to "
            f"{intent.environment} to roll back to. Nothing was changed."
        )
    same = [t for t in tags if t.sha == record.sha]
    tag = next((t for t in same if t.name == record.version), same[0] if same else None)
    if tag is None:
        moved = next((t for t in tags if t.name == record.version), None)
        now = f" (it points at {moved.sha[:7]} now)" if moved else " (it no longer exists)"
        raise ToolFailed(
            f"The last good deploy of {intent.service} to {intent.environment} was "
            f"{record.version} at {record.sha[:7]}, but no tag names that commit any more: "
            f"the tag {record.version} moved{now}. Name the version to roll back to. "
            "Nothing was changed."
        )
    return tag


def _choose(
    intent: Deploy | Rollback,
    tags: list[Tag],
    history: list[DeployRecord],
    quarantined: Mapping[str, Quarantined],
) -> tuple[Literal["deploy", "rollback"], Tag, list[Tag]]:
    banned = banned_commits(quarantined, tags=tags, history=history)
    passed: list[Tag] = []
    if isinstance(intent, Deploy):
        if not tags:
            raise ToolFailed(f"{intent.service} has no tags to deploy.")
        if intent.version is None:
            tag, passed = _newest(intent, tags, banned)
        elif (found := next((t for t in tags if t.name == intent.version), None)) is not None:
            tag = found
        else:
            newest = ", ".join(t.name for t in tags[:3])
            raise ToolFailed(
                f"{intent.service} has no tag {intent.version}; newest: {newest}. "
                "Nothing was deployed."
            )
        kind: Literal["deploy", "rollback"] = "deploy"
    else:
        tag, kind = _rollback_target(intent, tags, history, banned), "rollback"
        last = history[0] if history else None
        if last is not None and last.result == "succeeded" and last.sha == tag.sha:
            raise ToolFailed(
                f"{intent.service} {tag.name} is the commit live in {intent.environment} now "
                f"({last.version}, {tag.sha[:7]}): there is nothing to roll back. Nothing was "
                "changed."
            )
    if tag.sha in banned:
        why = CommitQuarantined(
            service=intent.service,
            environment=intent.environment,
            entry=banned[tag.sha],
            asked=tag.name,
        )
        raise PlanRefused(quarantined_text(why))
    return kind, tag, passed


def planned_commit(
    intent: Deploy | Rollback,
    *,
    tags: list[Tag],
    history: list[DeployRecord],
    quarantined: Mapping[str, Quarantined] | None = None,
) -> str:
    """The commit ``build_plan`` would plan (so the shell can read its ``Lineage``); raises
    as ``build_plan`` does."""
    return _choose(intent, tags, history, quarantined or {})[1].sha


def build_plan(
    intent: Deploy | Rollback,
    *,
    tags: list[Tag],
    history: list[DeployRecord],
    requester: str,
    quarantined: Mapping[str, Quarantined] | None = None,
    lineage: Lineage | None = None,
) -> Plan:
    """Raise ``ToolFailed`` with a message fit for a person (and the model) when impossible;
    ``PlanRefused`` when the commit is quarantined for that environment (failed
    verification, rolled back) under any name, or a deploy would go backwards, whoever asks.

    ``quarantined``: the pair's stored entries; ``lineage``: how the planned commit stands
    to the live one (None: not read, e.g. nothing is live)."""
    kind, tag, passed = _choose(intent, tags, history, quarantined or {})
    live = live_record(history)
    if live is not None and live.sha == tag.sha:
        lineage = Lineage(relation="same")
    elif live is None:
        lineage = None
    if kind == "deploy" and live is not None:
        verdict = check_not_older(
            service=intent.service,
            environment=intent.environment,
            version=tag.name,
            live=live.version,
            lineage=lineage,
        )
        if isinstance(verdict, Refused):
            skipped = ", ".join(t.name for t in passed)
            raise PlanRefused(
                verdict.reason
                if not passed
                else f"The newer tags ({skipped}) are quarantined in {intent.environment}. "
                + verdict.reason
            )
    return Plan(
        kind=kind,
        service=intent.service,
        environment=intent.environment,
        version=tag.name,
        sha=tag.sha,
        subject=tag.subject,
        previous_version=live.version if live else None,
        previous_sha=live.sha if live else None,
        lineage=lineage,
        requester=requester,
    )
