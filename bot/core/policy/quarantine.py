"""Quarantine decides on commits, not on tag names (a version is its commit). Pure.

A quarantine entry records the commit it bans (``Quarantined.sha``), so every other name
for that commit (``1.4.2`` beside ``v1.4.2``, ``release-2026-12``) is refused too, and a tag
moved to another commit after the quarantine is judged by its new commit.

Entries stored before commits were recorded carry only the tag name: they are resolved when
read (never rewritten), to the commits the deploy history recorded under that name and the
commit the name points at now; that bans at least what the name banned before.

Every quarantine decision is here, from facts the shell reads (the pair's entries, the tags,
the history) and results it reports: what a failed verification and a rollback that ran
quarantine (``after_verification``, ``after_deploy``), whether a plan's commit was
quarantined meanwhile (``refusal_of``, the re-check under the lock; planning asks
``banned_commits``), and which entries a ``release`` lifts (``release_keys``). The shell
stores and removes entries and never decides (bot/shell/world/quarantine.py).
"""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Literal

from bot.core.policy.supersession import Superseded
from bot.core.policy.verification import Verified, VerifyFailed
from bot.core.thread.events import VersionQuarantined
from bot.core.thread.plan import DeployRecord, Plan, Quarantined, Tag
from bot.core.thread.refusals import CommitQuarantined
from bot.core.wording.quarantine import moved_tag_text, not_quarantined_text, rolled_back_reason
from bot.core.wording.refusals import quarantined_text

__all__ = [
    "after_deploy",
    "after_verification",
    "banned_commits",
    "quarantined_event",
    "refusal_of",
    "release_keys",
]

_SHA_PREFIX_MIN = 7


def _commits_of(
    entry: Quarantined, *, tags: Sequence[Tag], history: Sequence[DeployRecord]
) -> set[str]:
    if entry.sha is not None:
        return {entry.sha}
    deployed = {r.sha for r in history if r.version == entry.version}
    named = {t.sha for t in tags if t.name == entry.version}
    return deployed | named


def banned_commits(
    entries: Mapping[str, Quarantined],
    *,
    tags: Sequence[Tag],
    history: Sequence[DeployRecord],
) -> dict[str, Quarantined]:
    """Commit sha -> the entry that quarantines it, for one service and environment.

    ``entries``: as stored (by commit, or by tag name for old entries); ``tags`` and
    ``history``: what resolves old entries' names (see the module docstring)."""
    banned: dict[str, Quarantined] = {}
    # Entries that know their commit first: their wording is the exact one.
    for entry in sorted(entries.values(), key=lambda e: e.sha is None):
        for sha in sorted(_commits_of(entry, tags=tags, history=history)):
            banned.setdefault(sha, entry)
    return banned


def release_keys(
    entries: Mapping[str, Quarantined],
    *,
    asked: str,
    tags: Sequence[Tag],
    history: Sequence[DeployRecord],
) -> tuple[list[str], str | None]:
    """The stored keys ``release SERVICE <asked> ...`` lifts, or (nothing, why not).

    ``asked`` names a commit by a tag (any alias of it: the commit is released, whatever name
    it was quarantined under), or by a commit sha (at least 7 characters). A tag that no
    longer exists matches the entries quarantined under that name. A tag that now points at
    a commit that is not quarantined releases nothing: the commit quarantined under that
    name stays quarantined (a moved tag must not lift it by accident).
    """
    tag = next((t for t in tags if t.name == asked), None)
    if tag is not None:
        wanted = {tag.sha}
    elif len(asked) >= _SHA_PREFIX_MIN and all(c in "0123456789abcdef" for c in asked.lower()):
        prefix = asked.lower()
        wanted = {
            sha
            for e in entries.values()
            for sha in _commits_of(e, tags=tags, history=history)
            if sha.startswith(prefix)
        }
    else:
        wanted = set()
    keys = [
        key
        for key, entry in entries.items()
        if _commits_of(entry, tags=tags, history=history) & wanted
    ]
    if not keys and tag is None:
        keys = [key for key, entry in entries.items() if entry.version == asked]
    if keys:
        return keys, None
    if tag is not None:
        moved_from = [e.sha for e in entries.values() if e.version == asked and e.sha]
        if moved_from:
            return [], moved_tag_text(asked, now_sha=tag.sha, was_sha=moved_from[0])
        return [], not_quarantined_text(asked, sha=tag.sha)
    return [], not_quarantined_text(asked)


def refusal_of(
    plan: Plan,
    entries: Mapping[str, Quarantined],
    *,
    tags: Sequence[Tag],
    history: Sequence[DeployRecord],
) -> str | None:
    """Why ``plan`` may not run because its commit is quarantined in its environment, under
    any name (None: it is not). Asked again under the lock just before it runs: a commit
    quarantined after the plan was approved is refused, not remade."""
    entry = banned_commits(entries, tags=tags, history=history).get(plan.sha)
    if entry is None:
        return None
    return quarantined_text(
        CommitQuarantined(
            service=plan.service, environment=plan.environment, entry=entry, asked=plan.version
        )
    )


def after_deploy(
    plan: Plan,
    *,
    result: Literal["succeeded", "failed", "timed_out", "interrupted"],
    at: datetime,
) -> Quarantined | None:
    """What a finished deploy quarantines: a rollback that succeeded quarantines the commit
    it rolled back from, so nothing deploys it again by accident. None for a deploy, a
    rollback that did not succeed, one with nothing live before it, or one "back" to the
    same commit (nothing was rolled back from)."""
    if result != "succeeded" or plan.kind != "rollback" or plan.previous_version is None:
        return None
    if plan.previous_sha is not None and plan.previous_sha == plan.sha:
        return None
    return Quarantined(
        version=plan.previous_version,
        sha=plan.previous_sha,
        by=plan.requester,
        reason=rolled_back_reason(plan),
        at=at.astimezone(UTC).isoformat(),
    )


def after_verification(
    plan: Plan, verdict: Verified | VerifyFailed | Superseded, *, at: datetime
) -> Quarantined | None:
    """What a verification's verdict quarantines: the commit it watched, when it failed.
    Verified quarantines nothing, and neither does a superseded verification (it decides
    nothing: bot/core/policy/supersession.py)."""
    if not isinstance(verdict, VerifyFailed):
        return None
    return Quarantined(
        version=plan.version,
        sha=plan.sha,
        by="verification",
        reason=verdict.text[:300],
        at=at.astimezone(UTC).isoformat(),
    )


def quarantined_event(
    entry: Quarantined, *, service: str, environment: str, event_id: str, at: datetime
) -> VersionQuarantined:
    """The thread's record of ``entry``, once the shell has stored it."""
    return VersionQuarantined(
        id=event_id,
        at=at,
        service=service,
        environment=environment,
        version=entry.version,
        by=entry.by,
        reason=entry.reason,
    )
