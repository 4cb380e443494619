"""Before a plan runs, under its pair's lock: has its idempotency key run already?

A thread Redis gave back from before a run (bot/core/policy/prior_run.py says how, and what is
decided) is caught here: the deploy history is read for the key and, where it does not know,
the service's ``status`` command is asked (once, by the key). A key that ran is not run
again: the lock is released (kept, as interrupted, when the outcome is unknown, like a
deploy whose worker died), the history gets the record back if only the status command
knew, and the thread gets the events that say so.
"""

import asyncio
import logging

from bot.core.policy.deploys import record_of
from bot.core.policy.prior_run import PriorRun, already_ran_events, from_history, from_status
from bot.core.release.promotion import soak_writes_after_deploy
from bot.core.thread.events import Event
from bot.core.thread.plan import DeployRecord, Plan
from bot.core.thread.thread import Thread
from bot.core.wording.deploys import held_for_text
from bot.shell.deploy.targets import Deployers
from bot.shell.lock.holder import LockHolder
from bot.shell.world.context import Context

__all__ = ["ASK_WITHIN_S", "PriorRuns"]

log = logging.getLogger("deploybot.prior_runs")

#: How far back the history is searched for the key (the history keeps 100 per pair).
HISTORY_SEARCHED = 100
#: How long the status command may take before a run (the pair's lock is not renewed yet:
#: a third of the default lease). A later answer counts as not knowing the key.
ASK_WITHIN_S = 10.0


class PriorRuns:
    def __init__(self, *, context: Context, deployer: Deployers) -> None:
        self._history = context.history
        self._soak = context.soak
        self._config = context.config
        self._env_lock = context.env_lock
        self._clock = context.clock.now
        self._new_id = context.clock.new_id
        self._deployer = deployer

    async def find(
        self, plan: Plan, *, key: str, token: int, history: list[DeployRecord] | None = None
    ) -> PriorRun | None:
        """What the history, else the target, knows of an earlier run of ``key``.
        ``history``: the pair's last ``HISTORY_SEARCHED`` records as read under the lock
        (read here when not given)."""
        if history is None:
            history = await self._history.recent(
                service=plan.service, environment=plan.environment, limit=HISTORY_SEARCHED
            )
        if (known := from_history(history, key=key)) is not None:
            return known
        # The service's status command, asked once. (A workflow's own lookup waits out its
        # dispatch's find window: too slow for every deploy; see the README.)
        try:
            async with asyncio.timeout(ASK_WITHIN_S):  # a late one is stopped, like at timeout_s
                asked = await self._deployer.commands.status(
                    plan=plan, idempotency_key=key, fencing_token=token
                )
        except TimeoutError:
            log.warning(
                "the status command of %s did not answer about %s within %g s before it ran: "
                "taken as not knowing that key",
                plan.service,
                key,
                ASK_WITHIN_S,
            )
            return None
        return from_status(asked)

    async def already_ran(
        self,
        thread: Thread,
        plan: Plan,
        *,
        key: str,
        token: int,
        history: list[DeployRecord] | None = None,
    ) -> list[Event] | None:
        """None when ``plan`` may run (nothing knows of an earlier run of its key). Else the
        lock (fenced by ``token``) is released, or kept when the outcome is unknown, and the
        events the thread gets instead of a second run are returned. ``history``: as
        ``find`` takes it."""
        prior = await self.find(plan, key=key, token=token, history=history)
        if prior is None:
            return None
        now = self._clock()
        service, environment = plan.service, plan.environment
        if prior.source != "history":  # the history lost it too: it gets it back
            record = record_of(thread, plan, result=prior.result, at=now)
            await self._history.record(service=service, environment=environment, record=record)
            soak = soak_writes_after_deploy(self._config, plan, result=prior.result, at=now)
            await self._soak.write(service=service, environment=environment, writes=soak)
        held = False
        if prior.result == "interrupted":
            holder = LockHolder(
                thread_id=thread.id,
                who=plan.requester,
                why=held_for_text(plan),
                since=now,
            )
            held = await self._env_lock.hold_interrupted(
                service=service, environment=environment, token=token, holder=holder
            )
        else:
            await self._env_lock.release(service=service, environment=environment, token=token)
        return already_ran_events(
            thread, plan, prior, key=key, token=token, held=held, now=now, new_id=self._new_id
        )
