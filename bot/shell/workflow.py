"""The workflow deployer: runs a plan as a GitHub Actions ``workflow_dispatch``.

Same interface as bot/shell/deployer.py's CommandDeployer (``run`` and ``status`` returning a
DeployResult; exit_code 0 = succeeded, 1 = failed, None = never started or not known), so a
service can route to either.

1. A GitHub Deployment is recorded for the plan's commit and environment (its failure is
   logged, never fails the deploy).
2. The workflow is dispatched with the service's ``inputs`` (placeholders filled as in an
   argv command) plus ``key_input`` = the idempotency key.
3. The run is found by that key in its ``display_title`` (the workflow's ``run-name`` must
   show ``${{ inputs.deploybot_key }}``), among the workflow's dispatched runs created since
   the dispatch (minus a margin for clock skew): never "the newest run" (finding, following
   and cancelling a run: bot/shell/workflow_runs.py).
4. It is followed (run and jobs every ``poll_s``) to completion; progress (status, job,
   step, link) goes to ``on_progress`` and ``on_output`` when it changes. At the service's
   ``timeout_s`` the run is cancelled and the result is ``timed_out``.

A dispatch that failed or whose answer was lost is never blindly repeated: first the run is
looked for by its key (for ``settle_s``); only when none exists is it dispatched again.
"""

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

from bot.core.config import Config
from bot.core.deploy_result import DeployResult, OnOutput
from bot.core.github_errors import GithubError, GithubRateLimited, GithubRefused
from bot.core.github_models import WorkflowRun
from bot.core.plan import Plan
from bot.core.redact import compact_tail, redact
from bot.core.service import GithubWorkflow
from bot.core.workflow_run import OnProgress, fill_inputs, result_of, summary_of
from bot.shell.github import GithubClient
from bot.shell.workflow_runs import NotStarted, WorkflowRuns

__all__ = ["WorkflowDeployer"]

log = logging.getLogger(__name__)


# -- running -----------------------------------------------------------------------------


class WorkflowDeployer:
    def __init__(
        self,
        *,
        config: Config,
        client: GithubClient,
        secrets: Sequence[str] = (),
        poll_s: float = 5,
        settle_s: float = 15,
        find_s: float = 120,
        dispatch_attempts: int = 3,
        max_wait_s: float = 120,
        created_margin_s: float = 120,
        lookback_s: float = 3 * 86400,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if poll_s <= 0 or dispatch_attempts < 1 or settle_s < 0 or find_s <= 0:
            raise ValueError("poll_s > 0, find_s > 0, settle_s >= 0, dispatch_attempts >= 1")
        self._config = config
        self._client = client
        self._secrets = tuple(secrets)
        self._runs = WorkflowRuns(client=client, poll_s=poll_s)
        self._settle_s = settle_s
        self._find_s = find_s
        self._attempts = dispatch_attempts
        self._max_wait_s = max_wait_s
        self._margin = timedelta(seconds=created_margin_s)
        self._lookback = timedelta(seconds=lookback_s)
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
    ) -> DeployResult:
        """Dispatch, find, follow; never raises for a failing or refused run."""
        target = self.target(plan)
        started = time.monotonic()
        since = self._now() - self._margin
        deployment = await self._record_deployment(target, plan, idempotency_key, fencing_token)
        found: list[WorkflowRun] = []
        timeout_s = self._config.services[plan.service].timeout_s
        try:
            async with asyncio.timeout(timeout_s):
                run = await self._dispatch(target, plan, idempotency_key, since)
                found.append(run)
                await self._deployment_status(target, deployment, "in_progress", run.html_url)
                run, jobs = await self._runs.follow(target, run, on_output, on_progress)
        except NotStarted as exc:
            await self._deployment_status(target, deployment, "error", "", str(exc))
            return self._result("failed", None, started, f"deploybot: {exc}")
        except GithubError as exc:  # GitHub refused a read of our own run
            url = found[0].html_url if found else ""
            await self._deployment_status(target, deployment, "error", url, "lost track")
            text = f"workflow run {url}\ndeploybot: lost track of the run: {exc}"
            return self._result("failed", None, started, text, url)
        except TimeoutError:
            text = f"deploybot: timed out after {timeout_s:g} s"
            if found:
                text = await self._runs.cancel(target, found[0]) + "\n" + text
            url = found[0].html_url if found else ""
            await self._deployment_status(target, deployment, "error", url, "timed out")
            return self._result("timed_out", None, started, text, url)
        result = result_of(run.conclusion)
        state = "success" if result == "succeeded" else "failure"
        await self._deployment_status(target, deployment, state, run.html_url)
        code = 0 if result == "succeeded" else 1
        return self._result(result, code, started, summary_of(run, jobs), run.html_url)

    async def status(
        self,
        *,
        plan: Plan,
        idempotency_key: str,
        fencing_token: int,
        on_progress: OnProgress | None = None,
    ) -> DeployResult | None:
        """The result of the run dispatched with this key, followed to its end if it is
        still going (cancelled at the service's timeout: timed_out, exit_code None); None
        when GitHub has no such run or cannot be asked."""
        target = self.target(plan)
        started = time.monotonic()
        try:
            run = await self._runs.find(target, idempotency_key, self._now() - self._lookback)
        except GithubError as exc:
            log.warning("cannot ask GitHub for the run of %s: %s", idempotency_key, exc)
            return None
        if run is None:
            return None
        timeout_s = self._config.services[plan.service].timeout_s
        try:
            async with asyncio.timeout(timeout_s):
                run, jobs = await self._runs.follow(target, run, None, on_progress)
        except TimeoutError:
            text = await self._runs.cancel(target, run)
            await self._finish_deployment(target, plan, idempotency_key, "error", run.html_url)
            text = f"{text}\ndeploybot: timed out"
            return self._result("timed_out", None, started, text, run.html_url)
        except GithubError as exc:
            log.warning("cannot follow run %d: %s", run.id, exc)
            return None
        result = result_of(run.conclusion)
        state = "success" if result == "succeeded" else "failure"
        await self._finish_deployment(target, plan, idempotency_key, state, run.html_url)
        code = 0 if result == "succeeded" else 1
        return self._result(result, code, started, summary_of(run, jobs), run.html_url)

    async def _finish_deployment(
        self, target: GithubWorkflow, plan: Plan, key: str, state: str, log_url: str
    ) -> None:
        """After a crash: the Deployment the first worker recorded gets its final status."""
        try:
            found = await self._client.deployments(
                target.owner, target.repo, sha=plan.sha, environment=plan.environment
            )
        except GithubError as exc:
            log.warning("cannot find the Deployment of %s: %s", key, exc)
            return
        for deployment in found:
            if (
                isinstance(deployment.payload, dict)
                and deployment.payload.get("deploybot_key") == key
            ):
                await self._deployment_status(target, deployment.id, state, log_url)
                return

    # -- steps ---------------------------------------------------------------------------

    async def _dispatch(
        self, target: GithubWorkflow, plan: Plan, key: str, since: datetime
    ) -> WorkflowRun:
        inputs = fill_inputs(target, plan=plan, idempotency_key=key)
        find_within = self._runs.find_within
        for attempt in range(1, self._attempts + 1):
            try:
                await self._client.dispatch_workflow(
                    target.owner, target.repo, target.workflow_file, ref=target.ref, inputs=inputs
                )
            except GithubRefused as exc:
                raise NotStarted(f"GitHub refused the dispatch: {exc}") from exc
            except GithubRateLimited as exc:
                # Not acted on; still, look before dispatching again.
                log.warning("dispatch %d rate limited; waiting %.1f s", attempt, exc.wait_s)
                await asyncio.sleep(min(exc.wait_s, self._max_wait_s))
                if (run := await find_within(target, key, since, 0)) is not None:
                    return run
            except GithubError as exc:
                log.warning("dispatch %d answer lost (%s); looking for its run", attempt, exc)
                if (run := await find_within(target, key, since, self._settle_s)) is not None:
                    return run
            else:
                if (run := await find_within(target, key, since, self._find_s)) is not None:
                    return run
                raise NotStarted(
                    f"dispatched, but no run showing its key appeared in {self._find_s:g} s: "
                    f"does the workflow's run-name show inputs.{target.key_input}?"
                )
        raise NotStarted(f"the dispatch failed {self._attempts} times; not dispatched again")

    async def _record_deployment(
        self, target: GithubWorkflow, plan: Plan, key: str, fencing_token: int
    ) -> int | None:
        try:
            deployment = await self._client.create_deployment(
                target.owner,
                target.repo,
                ref=plan.sha,
                environment=plan.environment,
                description=f"deploybot: {plan.kind} {plan.service} {plan.version}"[:140],
                payload={"deploybot_key": key, "fencing_token": fencing_token},
            )
        except GithubError as exc:
            log.warning("recording a GitHub Deployment failed; deploying anyway: %s", exc)
            return None
        return deployment.id

    async def _deployment_status(
        self,
        target: GithubWorkflow,
        deployment: int | None,
        state: str,
        log_url: str,
        description: str = "",
    ) -> None:
        if deployment is None:
            return
        try:
            await self._client.create_deployment_status(
                target.owner, target.repo, deployment, state=state, log_url=log_url,
                description=description,
            )  # fmt: skip
        except GithubError as exc:
            log.warning("recording a Deployment status failed: %s", exc)

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
            output_tail=compact_tail(redact(text, secrets=self._secrets), max_lines=6),
            link=link or None,
        )
