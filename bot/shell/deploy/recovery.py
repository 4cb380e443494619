"""What the next worker does with a deploy whose worker died before saving its result.

Invariant 3: never run it again. Find out what happened where the answer can be known (the
history, written right after the command exited; else the service's ``status`` command asked
by idempotency key; a GitHub run looked for until its find window from ``deploy_started`` has
passed and followed to its end) and record the real result. A GitHub run goes on without its
worker, so its lock was renewed for a day before the dispatch: the pair stays held while that
is found out, then is released with the result. Only a truly unknown outcome is recorded as
interrupted (bot/shell/deploy/interruption.py): the thread and the history say so, and the
environment stays held for that service until a person has looked and says ``unlock
<environment>``.
"""

from typing import Literal

from bot.core.loop.steps import Recover
from bot.core.policy.recovery import from_recorded, from_target
from bot.core.thread.deploy_result import OutcomeUnknown
from bot.core.thread.events import DeployFinished, Event
from bot.core.thread.plan import Plan
from bot.core.thread.thread import Thread
from bot.core.wording.deploys import read_back_note, status_note, status_unknown_text
from bot.core.wording.messages import interrupted_text
from bot.shell.deploy.execution import Executor
from bot.shell.deploy.interruption import Interruptions
from bot.shell.deploy.targets import Deployers
from bot.shell.world.context import Context

__all__ = ["Recovery"]


class Recovery:
    def __init__(
        self,
        *,
        context: Context,
        deployer: Deployers,
        executor: Executor,
        interruptions: Interruptions,
    ) -> None:
        self._history = context.history
        self._env_lock = context.env_lock
        self._clock = context.clock.now
        self._new_id = context.clock.new_id
        self._deployer = deployer
        self._executor = executor
        self._interruptions = interruptions

    async def recover(self, step: Recover, thread: Thread) -> list[Event]:
        """The worker that ran a deploy died before saving its result (invariant 3: never
        run again). Where the answer can be known, record the real result: the history
        (written right after the command exited), else the service's status command asked by
        idempotency key. Otherwise it is interrupted: the thread says so, the history shows
        it, and the environment stays held for this service until a person has looked."""
        plan, started = step.plan, step.started
        now = self._clock()
        history = await self._history.recent(
            service=plan.service, environment=plan.environment, limit=20
        )
        known = from_recorded(history, thread_id=thread.id, plan=plan, started_at=started.at)
        if known is not None:
            await self._env_lock.release(
                service=plan.service, environment=plan.environment, token=started.fencing_token
            )
            return [
                self._finished(
                    plan,
                    result=known.result,
                    exit_code=None,
                    duration_s=(known.finished_at - started.at).total_seconds(),
                    note=read_back_note(),
                ),
                self._executor.lock_event(plan, "released", started.fencing_token),
            ]
        # Following a GitHub run can take minutes: its lock was renewed for a day before the
        # dispatch (bot/shell/deploy/watch.py), so the pair stays held meanwhile.
        asked = await self._deployer.status(
            plan=plan,
            idempotency_key=started.idempotency_key,
            fencing_token=started.fencing_token,
            started_at=started.at,
        )
        now = self._clock()  # asking may have taken minutes (a GitHub run followed to its end)
        # A status command's own timeout says nothing; a workflow's result is GitHub's word.
        told = from_target(asked, on_github=self._deployer.runs_on_github(plan))
        if told is not None:
            result = told.result
            await self._executor.record(
                thread, plan, result=result, at=now, token=started.fencing_token
            )
            return [
                self._finished(
                    plan,
                    result=result,
                    exit_code=None,
                    duration_s=(now - started.at).total_seconds(),
                    note=status_note(
                        result=result, from_run=told.link is not None, tail=told.output_tail.strip()
                    ),
                    link=told.link,
                ),
                self._executor.lock_event(plan, "released", started.fencing_token),
            ]
        text = status_unknown_text(
            interrupted_text(plan, plan.plan_hash),
            reason=asked.reason if isinstance(asked, OutcomeUnknown) else None,
            asked=asked is not None,
        )
        return await self._interruptions.hold(thread, plan, token=started.fencing_token, text=text)

    def _finished(
        self,
        plan: Plan,
        *,
        result: Literal["succeeded", "failed", "timed_out"],
        exit_code: int | None,
        duration_s: float,
        note: str,
        link: str | None = None,
    ) -> DeployFinished:
        return DeployFinished(
            id=self._new_id(),
            at=self._clock(),
            plan_hash=plan.plan_hash,
            result=result,
            exit_code=exit_code,
            duration_s=max(0.0, duration_s),
            output_tail=note,
            link=link,
        )
