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

from datetime import datetime
from typing import Literal

from bot.core.loop.steps import Recover
from bot.core.thread.deploy_result import DeployResult, OutcomeUnknown
from bot.core.thread.events import DeployFinished, Event
from bot.core.thread.plan import Plan
from bot.core.thread.thread import Thread
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
        known = next(
            (
                r
                for r in history
                if r.thread_id == thread.id
                and r.kind == plan.kind
                and r.version == plan.version
                and r.sha == plan.sha
                and datetime.fromisoformat(r.at) >= started.at
            ),
            None,
        )
        if known is not None and known.result != "interrupted":
            await self._env_lock.release(
                service=plan.service, environment=plan.environment, token=started.fencing_token
            )
            return [
                self._finished(
                    plan,
                    result=known.result,
                    exit_code=None,
                    duration_s=(datetime.fromisoformat(known.at) - started.at).total_seconds(),
                    note="deploybot: the worker stopped after the command finished; its "
                    "result was read back from the deploy history.",
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
        if isinstance(asked, DeployResult) and (
            asked.exit_code in (0, 1) or self._deployer.runs_on_github(plan)
        ):
            result = asked.result
            await self._executor.record(
                thread, plan, result=result, at=now, token=started.fencing_token
            )
            tail = asked.output_tail.strip()
            source = (
                "the workflow run it dispatched (found by its key)"
                if asked.link
                else "the service's status command"
            )
            return [
                self._finished(
                    plan,
                    result=result,
                    exit_code=None,
                    duration_s=(now - started.at).total_seconds(),
                    note=f"deploybot: the worker stopped during the deploy; {source} says it "
                    f"{result.replace('_', ' ')}." + (f"\n{tail}" if tail else ""),
                    link=asked.link,
                ),
                self._executor.lock_event(plan, "released", started.fencing_token),
            ]
        text = interrupted_text(plan, plan.plan_hash)
        if isinstance(asked, OutcomeUnknown):
            text += f"\n{asked.reason}"
        elif asked is not None:
            text += " (Its status command could not tell either.)"
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
