"""The workflow deployer: runs a plan as a GitHub Actions ``workflow_dispatch``.

Same interface as bot/shell/process/command_deployer.py's CommandDeployer (``run`` and ``status``),
so a service can route to either. A workflow deploy is over when GitHub says its run completed,
never earlier: the result is a DeployResult (succeeded, failed, timed out: what the run came
to), or ``OutcomeUnknown`` when a run of ours may still be going where the bot cannot see or
stop it, and then its service and environment stay held for a person.

1. A GitHub Deployment is recorded for the plan's commit and environment (its failure is
   logged, never fails the deploy): bot/shell/github/deployments.py.
2. The workflow is dispatched with the service's ``inputs`` (placeholders filled as in an
   argv command) plus ``key_input`` = the idempotency key.
3. The run is found by that key in its ``display_title``, looking for ``find_s`` after the
   dispatch (GitHub lists a run seconds after its dispatch, sometimes tens of seconds). No
   run by then is an unknown outcome, not a failure: GitHub may still start it. A dispatch
   is sent again only after a rate limit: bot/shell/github/dispatch.py.
4. It is followed (run and jobs every ``poll_s``) until GitHub reports it completed. At the
   service's ``timeout_s`` it is cancelled, and followed on until GitHub reports it completed
   (cancelling is asynchronous), for at most ``cancel_wait_s``: past that it is unknown.

After a crash the next worker (``status``) looks for the run until ``dispatch_s + find_s``
after ``deploy_started`` (the injected clock; nothing is dispatched later than ``dispatch_s``
after a deploy began), then follows it to its end like ``run`` does and finishes the
Deployment's statuses.
"""

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Literal

from bot.core.config.config import Config
from bot.core.config.service import GithubWorkflow
from bot.core.reports import workflow_runs as words
from bot.core.thread.deploy_result import DeployResult, Keepalive, OnOutput, OutcomeUnknown
from bot.core.thread.plan import Plan
from bot.core.wording.redact import compact_tail, redact
from bot.shell.github.client import GithubClient
from bot.shell.github.deployments import Deployments
from bot.shell.github.dispatch import Dispatcher
from bot.shell.github.errors import GithubError
from bot.shell.github.models import RunJob, WorkflowRun
from bot.shell.github.run_rules import OnProgress, result_of, summary_of
from bot.shell.github.runs import MayHaveStarted, NotStarted, WorkflowRuns
from bot.shell.github.timings import DEFAULT_TIMINGS, WorkflowTimings

__all__ = ["WorkflowDeployer"]

_CANCEL_ASK_S = 10  # asking GitHub to cancel when the deploy itself is being stopped


class WorkflowDeployer:
    def __init__(
        self,
        *,
        config: Config,
        client: GithubClient,
        secrets: Sequence[str] = (),
        timings: WorkflowTimings = DEFAULT_TIMINGS,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if timings.cancel_wait_s <= 0:
            raise ValueError("cancel_wait_s > 0")
        self._config = config
        self._secrets = tuple(secrets)
        self._runs = WorkflowRuns(client=client, poll_s=timings.poll_s, now=now)
        self._dispatcher = Dispatcher(client=client, runs=self._runs, now=now, timings=timings)
        self._deployments = Deployments(client=client)
        self._cancel_wait_s = timings.cancel_wait_s
        self._now = now

    def target(self, plan: Plan) -> GithubWorkflow:
        service = self._config.services[plan.service]
        chosen = (
            service.rollback if plan.kind == "rollback" and service.rollback else service.deploy
        )
        if not isinstance(chosen, GithubWorkflow):
            raise ValueError(f"service {plan.service} deploys through a command, not a workflow")
        return chosen

    async def run(
        self,
        *,
        plan: Plan,
        idempotency_key: str,
        fencing_token: int,
        on_output: OnOutput | None = None,
        on_progress: OnProgress | None = None,
        keepalive: Keepalive | None = None,
    ) -> DeployResult | OutcomeUnknown:
        """Dispatch, find, follow to completion; never raises for a failing or refused run.
        Cancelled (the worker stopping) it leaves the run to the next worker, unless the
        lock could not be kept (``keepalive`` stale): then the run is cancelled too."""
        target = self.target(plan)
        started = time.monotonic()
        begun = self._now()
        deployment = await self._deployments.record(target, plan, idempotency_key, fencing_token)
        try:
            run = await self._dispatcher.start(target, plan, idempotency_key, begun=begun)
        except NotStarted as exc:
            await self._deployments.status(target, deployment, "error", "", str(exc))
            return self._result("failed", None, started, words.run_unknown_note(why=exc))
        except MayHaveStarted as exc:
            return self._unknown(started, words.run_unknown_note(why=exc))
        await self._deployments.status(target, deployment, "in_progress", run.html_url)
        timeout_s = self._config.services[plan.service].timeout_s
        try:
            return await self._see_through(
                target,
                run,
                deployment,
                remaining_s=timeout_s - (time.monotonic() - started),
                timeout_s=timeout_s,
                started=started,
                on_output=on_output,
                on_progress=on_progress,
            )
        except asyncio.CancelledError:
            if keepalive is not None and not keepalive.fresh():
                with contextlib.suppress(Exception):  # best effort: the lock is gone already
                    await asyncio.wait_for(self._runs.cancel(target, run), _CANCEL_ASK_S)
            raise

    async def status(
        self,
        *,
        plan: Plan,
        idempotency_key: str,
        fencing_token: int,
        started_at: datetime | None = None,
        on_progress: OnProgress | None = None,
    ) -> DeployResult | OutcomeUnknown:
        """After a crash: the run dispatched with this key, looked for until its find window
        (from ``started_at``, the deploy's start) has passed, followed to its end (cancelled
        at the service's timeout, counted from ``started_at``), the Deployment finished."""
        target = self.target(plan)
        started = time.monotonic()
        begun = started_at or self._now()
        since, until = self._dispatcher.window(begun)
        try:
            run = await self._runs.find_until(target, idempotency_key, since, until)
        except GithubError as exc:
            return self._unknown(started, words.not_asked_note(why=exc))
        if run is None:
            return self._unknown(started, words.not_found_note(key=idempotency_key, until=until))
        deployment = await self._deployments.find(target, plan, idempotency_key)
        if run.status != "completed":
            await self._deployments.status(target, deployment, "in_progress", run.html_url)
        timeout_s = self._config.services[plan.service].timeout_s
        return await self._see_through(
            target,
            run,
            deployment,
            remaining_s=timeout_s - (self._now() - begun).total_seconds(),
            timeout_s=timeout_s,
            started=started,
            on_progress=on_progress,
        )

    # -- steps ---------------------------------------------------------------------------

    async def _see_through(
        self,
        target: GithubWorkflow,
        run: WorkflowRun,
        deployment: int | None,
        *,
        remaining_s: float,
        timeout_s: float,
        started: float,
        on_output: OnOutput | None = None,
        on_progress: OnProgress | None = None,
    ) -> DeployResult | OutcomeUnknown:
        """Follow ``run`` until GitHub reports it completed; past ``remaining_s`` cancel it
        and follow it until GitHub reports that (bounded)."""
        try:
            async with asyncio.timeout(max(0.0, remaining_s)):
                run, jobs = await self._runs.follow(target, run, on_output, on_progress)
        except TimeoutError:
            return await self._cancel(target, run, deployment, timeout_s=timeout_s, started=started)
        except GithubError as exc:  # refused to show our own run: it goes on unseen
            text = f"{words.run_line(url=run.html_url)}\n{words.lost_track_note(why=exc)}"
            return self._unknown(started, text, run.html_url)
        return await self._ended(target, deployment, run, jobs, started=started)

    async def _cancel(
        self,
        target: GithubWorkflow,
        run: WorkflowRun,
        deployment: int | None,
        *,
        timeout_s: float,
        started: float,
    ) -> DeployResult | OutcomeUnknown:
        asked = await self._runs.cancel(target, run)
        ended = await self._runs.until_completed(target, run, self._cancel_wait_s)
        timed_out = words.timed_out_note(timeout_s=timeout_s)
        if ended is None:
            unseen = words.cancel_unseen_note(wait_s=self._cancel_wait_s)
            text = f"{words.run_line(url=run.html_url)}\n{timed_out}\n{asked}\n{unseen}"
            return self._unknown(started, text, run.html_url)
        run, jobs = ended
        if run.conclusion == "success":  # it finished before the cancel took hold
            note = words.succeeded_before_cancel_note(timed_out=timed_out)
            return await self._ended(target, deployment, run, jobs, started=started, note=note)
        await self._deployments.status(target, deployment, "error", run.html_url, "timed out")
        completed = words.cancelled_completed_note(asked=asked)
        text = f"{summary_of(run, jobs)}\n{timed_out}\n{completed}"
        return self._result("timed_out", None, started, text, run.html_url)

    async def _ended(
        self,
        target: GithubWorkflow,
        deployment: int | None,
        run: WorkflowRun,
        jobs: list[RunJob],
        *,
        started: float,
        note: str = "",
    ) -> DeployResult:
        result = result_of(run.conclusion)
        state = "success" if result == "succeeded" else "failure"
        await self._deployments.status(target, deployment, state, run.html_url)
        text = summary_of(run, jobs) + (f"\n{note}" if note else "")
        code = 0 if result == "succeeded" else 1
        return self._result(result, code, started, text, run.html_url)

    def _result(
        self,
        result: Literal["succeeded", "failed", "timed_out"],
        code: int | None,
        started: float,
        text: str,
        link: str | None = None,
    ) -> DeployResult:
        return DeployResult(
            result=result,
            exit_code=code,
            duration_s=time.monotonic() - started,
            output_tail=self._tail(text),
            link=link or None,
        )

    def _unknown(self, started: float, text: str, link: str | None = None) -> OutcomeUnknown:
        return OutcomeUnknown(
            reason=self._tail(text), duration_s=time.monotonic() - started, link=link or None
        )

    def _tail(self, text: str) -> str:
        return compact_tail(redact(text, secrets=self._secrets), max_lines=6)
