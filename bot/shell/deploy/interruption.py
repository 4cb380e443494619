"""A deploy nobody knows the end of, held for a person (invariants 3 and 4).

Two ways lead here: the worker that ran a deploy died before its result was known and the
target cannot say (bot/shell/deploy/recovery.py), or a GitHub run of ours may still be going where
the bot can neither see nor stop it (a cancel GitHub has not confirmed, a dispatch whose run
never showed: bot/shell/github/workflow_deployer.py). Either way the deploy is *interrupted*: its
service and environment stay held without expiry, marked interrupted, until an approver of the
environment has checked and says ``unlock <environment>``; the history shows it; the thread
says what is known and that it will not be run again, and so does the announcement of the
deploy where its environment has one (``bot.core.release.announcements``).
"""

from bot.core.policy.deploys import record_of
from bot.core.release.announcements import announce
from bot.core.release.promotion import soak_writes_after_deploy
from bot.core.thread.deploy_result import OutcomeUnknown
from bot.core.thread.events import DeployInterrupted, Event, MessageSent
from bot.core.thread.plan import Plan
from bot.core.thread.thread import Thread
from bot.core.wording.deploys import held_for_text, hold_text
from bot.core.wording.messages import unknown_text
from bot.shell.lock.holder import LockHolder
from bot.shell.store.redis_faults import through_outages
from bot.shell.world.context import Context

__all__ = ["Interruptions"]


class Interruptions:
    def __init__(self, *, context: Context) -> None:
        self._env_lock = context.env_lock
        self._history = context.history
        self._soak = context.soak
        self._config = context.config
        self._clock = context.clock.now
        self._new_id = context.clock.new_id

    async def _keep(self, thread: Thread, plan: Plan, *, token: int, why: str) -> bool:
        """Hold the pair of the deploy fenced by ``token`` without expiry, marked
        interrupted; False if another deploy holds it (or held it since)."""
        holder = LockHolder(thread_id=thread.id, who=plan.requester, why=why, since=self._clock())
        return await self._env_lock.hold_interrupted(
            service=plan.service, environment=plan.environment, token=token, holder=holder
        )

    async def unknown(
        self, thread: Thread, plan: Plan, *, token: int, outcome: OutcomeUnknown
    ) -> list[Event]:
        """A deploy that may still be running out of sight: held for a person, said."""
        return await self.hold(thread, plan, token=token, text=unknown_text(plan, outcome.reason))

    async def hold(self, thread: Thread, plan: Plan, *, token: int, text: str) -> list[Event]:
        """The deploy is interrupted: the pair held for a person, the history line, and the
        events that say so (``text``: what is known; who frees the pair is added). Written
        through Redis outages: this is a deploy's end as much as a result is."""
        now = self._clock()
        why = held_for_text(plan)
        kept: list[bool] = []

        async def keep() -> None:
            kept[:] = [await self._keep(thread, plan, token=token, why=why)]

        await through_outages(keep, what="hold")
        record = record_of(thread, plan, result="interrupted", at=now)
        await through_outages(
            lambda: self._history.record(
                service=plan.service, environment=plan.environment, record=record
            ),
            what="history",
        )
        soak = soak_writes_after_deploy(self._config, plan, result="interrupted", at=now)
        await through_outages(
            lambda: self._soak.write(
                service=plan.service, environment=plan.environment, writes=soak
            ),
            what="soak",
        )
        held = kept[0]
        return [
            DeployInterrupted(id=self._new_id(), at=now, plan_hash=plan.plan_hash),
            MessageSent(
                id=self._new_id(),
                at=now,
                text=hold_text(plan, text=text, held=held),
                purpose="error",
            ),
            *announce(
                thread,
                config=self._config,
                plan=plan,
                moment="interrupted",
                now=now,
                new_id=self._new_id,
            ),
        ]
