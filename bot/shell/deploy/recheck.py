"""The live-state re-check just before a plan runs (invariant 2), under the lock.

Is the world still the one the approvers were shown? The environment's live commit (from
the deploy history), the quarantine entries and the tag's commit (from the repository, not
the cache) are read again and ``bot.core.policy.drift.recheck`` decides, in its order: the
live state (``bot.core.policy.live``), a quarantine under any name, the bot's own rollback
still undoing the failed deploy. On drift the plan does not run: the thread says what
changed, every copy of its request is closed, and the plan is made again from what is true
now (a new plan hash, so no old approval can count) or refused (now older than live). A
rollback the bot chose after a failed verification is never made again: it was for the
version that failed, and that version is no longer what is live
(bot/core/policy/supersession.py); the thread says so and nothing is rolled back.
"""

import asyncio
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass

from bot.core.errors import ToolFailed
from bot.core.loop.aftercare import rolls_back
from bot.core.loop.planning import build_plan
from bot.core.policy.approval import Allowed
from bot.core.policy.approval_posts import closing_messages
from bot.core.policy.drift import recheck
from bot.core.thread.events import (
    ApprovalRequested,
    ErrorRecorded,
    Event,
    MessageSent,
    PlanProposed,
)
from bot.core.thread.intents import Deploy, Rollback
from bot.core.thread.plan import DeployRecord, Plan, Quarantined, Tag
from bot.core.thread.thread import Thread
from bot.core.wording.deploys import drift_text, not_remade_text
from bot.shell.world.context import Context
from bot.shell.world.lookups import Lookups

__all__ = ["LiveCheck", "LiveState", "tags_or_error"]


@dataclass(frozen=True, kw_only=True)
class LiveState:
    """What the re-check compares the plan with, as read just before it would run."""

    history: list[DeployRecord]  # the pair's recent deploys, newest first
    quarantined: Mapping[str, Quarantined]
    tags: list[Tag] | ToolFailed  # from the repository, not the cache


async def tags_or_error(read: Awaitable[list[Tag]]) -> list[Tag] | ToolFailed:
    """The repository's tags, or why they could not be read."""
    try:
        return await read
    except ToolFailed as exc:
        return exc


class LiveCheck:
    def __init__(self, *, context: Context, lookups: Lookups) -> None:
        self._history = context.history
        self._quarantine = context.quarantine
        self._clock = context.clock.now
        self._new_id = context.clock.new_id
        self._lookups = lookups

    async def repo_tags(self, service: str) -> list[Tag]:
        """The tags as the repository has them now (raises ``ToolFailed``), without writing
        the tags cache (bot/shell/deploy/under_lock.py updates it when they changed)."""
        return await self._lookups.repo_tags(service)

    async def drift(
        self, thread: Thread, plan: Plan, *, live: LiveState | None = None
    ) -> list[Event] | None:
        """None when ``plan`` may run; else the events that say why not and what next.

        ``live``: the state as the caller read it under the lock (bot/shell/deploy/under_lock.py);
        without it, the history, the quarantine and the repository are read here, at once."""
        if live is None:
            history, banned, found = await asyncio.gather(
                self._history.recent(service=plan.service, environment=plan.environment, limit=5),
                self._quarantine.of(service=plan.service, environment=plan.environment),
                tags_or_error(self.repo_tags(plan.service)),
            )
            live = LiveState(history=history, quarantined=banned, tags=found)
        history, banned = live.history, live.quarantined
        tags: list[Tag] | None
        tags_error = ""
        if isinstance(live.tags, ToolFailed):
            tags, tags_error = None, str(live.tags)
        else:
            tags = live.tags
        failed = rolls_back(thread, plan) if plan.kind == "rollback" else None
        verdict = recheck(
            plan,
            history=history,
            quarantined=banned,
            tags=tags,
            tags_error=tags_error,
            failed=failed,
            now=self._clock(),
        )
        if isinstance(verdict, Allowed):
            return None
        undoing = failed is not None
        if not verdict.remake:
            tags = None
        now = self._clock()
        text = drift_text(plan, reason=verdict.reason, remade=verdict.remake)
        asked = any(
            isinstance(e, ApprovalRequested) and e.plan_hash == plan.plan_hash
            for e in thread.events
        )
        events: list[Event] = []
        if asked:
            events += closing_messages(
                thread, text=text, purpose="error", now=now, new_id=self._new_id
            )
        elif not undoing:  # the bot's own rollback is said once, below, with what to do
            events.append(MessageSent(id=self._new_id(), at=now, text=text, purpose="error"))
        if failed is not None:
            events.append(
                ErrorRecorded(
                    id=self._new_id(),
                    at=now,
                    kind="refused",
                    message=not_remade_text(reason=verdict.reason, failed_version=failed.version),
                )
            )
        if tags is None:
            return events
        intent: Deploy | Rollback = (
            Deploy(service=plan.service, environment=plan.environment, version=plan.version)
            if plan.kind == "deploy"
            else Rollback(service=plan.service, environment=plan.environment, version=plan.version)
        )
        try:
            lineage = await self._lookups.lineage_for(
                intent, tags=tags, history=history, quarantined=banned
            )
            again = build_plan(
                intent,
                tags=tags,
                history=history,
                requester=plan.requester,
                quarantined=banned,
                lineage=lineage,
            )
        except ToolFailed as exc:  # e.g. now older than what is live: said, not retried
            events.append(
                ErrorRecorded(id=self._new_id(), at=now, kind="refused", message=str(exc))
            )
        else:
            events.append(PlanProposed(id=self._new_id(), at=now, plan=thread.fresh_attempt(again)))
        return events
