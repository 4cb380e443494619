"""Workflow runs: finding the run a dispatch started, following it, cancelling it.

A run is found by the idempotency key in its ``display_title`` (the workflow's ``run-name``
must show ``${{ inputs.deploybot_key }}``), among the workflow's dispatched runs created since
a given time: never "the newest run". When several show the key, the first (lowest id) is
followed. Following reads the run and its jobs every ``poll_s`` until it completes, and
reports progress (status, job, step, link) when it changes; a read GitHub did not answer
(5xx, timeout, rate limit) is tried again at the next poll. bot/shell/workflow.py dispatches
the run and records the GitHub Deployment.
"""

import asyncio
import logging
import time
from datetime import datetime

from bot.core.deploy_result import OnOutput
from bot.core.github_errors import GithubError, GithubRateLimited, GithubUnavailable
from bot.core.github_models import RunJob, WorkflowRun
from bot.core.service import GithubWorkflow
from bot.core.workflow_run import OnProgress, RunProgress, has_key, progress_of
from bot.shell.github import GithubClient

__all__ = ["NotStarted", "WorkflowRuns"]

log = logging.getLogger(__name__)


class NotStarted(Exception):
    """No run of ours exists; the message says why."""


class WorkflowRuns:
    """The runs of the workflows deploybot dispatches, looked for and followed every
    ``poll_s``."""

    def __init__(self, *, client: GithubClient, poll_s: float) -> None:
        if poll_s <= 0:
            raise ValueError("poll_s > 0")
        self._client = client
        self._poll_s = poll_s

    async def find_within(
        self, target: GithubWorkflow, key: str, since: datetime, within_s: float
    ) -> WorkflowRun | None:
        """Look every poll for ``within_s``; a lookup GitHub did not answer is retried, and
        when none was answered, "no run" is not concluded (NotStarted: not dispatched)."""
        deadline = time.monotonic() + within_s
        answered = False
        while True:
            try:
                if (run := await self.find(target, key, since)) is not None:
                    return run
                answered = True
            except (GithubUnavailable, GithubRateLimited) as exc:
                log.warning("looking for the run of %s failed: %s", key, exc)
            if time.monotonic() >= deadline:
                if not answered:
                    raise NotStarted(
                        "GitHub could not be asked whether the dispatch started a run; not "
                        "dispatched again: check the workflow's runs for key " + key
                    )
                return None
            await asyncio.sleep(self._poll_s)

    async def find(self, target: GithubWorkflow, key: str, since: datetime) -> WorkflowRun | None:
        """The run showing ``key`` created since ``since``; None when there is none."""
        runs = await self._client.workflow_runs(
            target.owner, target.repo, target.workflow_file, created_after=since
        )
        ours = sorted((r for r in runs if has_key(r.display_title, key)), key=lambda r: r.id)
        if len(ours) > 1:
            log.error("%d runs show key %s; following the first, %d", len(ours), key, ours[0].id)
        return ours[0] if ours else None

    async def follow(
        self,
        target: GithubWorkflow,
        run: WorkflowRun,
        on_output: OnOutput | None,
        on_progress: OnProgress | None,
    ) -> tuple[WorkflowRun, list[RunJob]]:
        """Until ``run`` completes: the run as it ended and its jobs."""
        last: RunProgress | None = None
        while True:
            try:
                run = await self._client.run(target.owner, target.repo, run.id)
                jobs = await self._client.run_jobs(target.owner, target.repo, run.id)
            except (GithubUnavailable, GithubRateLimited) as exc:
                log.warning("following run %d: %s; trying again", run.id, exc)
                await asyncio.sleep(self._poll_s)
                continue
            progress = progress_of(run, jobs)
            if progress != last:
                last = progress
                await _tell(on_progress, progress, on_output)
            if run.status == "completed":
                return run, jobs
            await asyncio.sleep(self._poll_s)

    async def cancel(self, target: GithubWorkflow, run: WorkflowRun) -> str:
        """Cancel ``run``; the lines that say so (or that cancelling failed)."""
        try:
            await self._client.cancel_run(target.owner, target.repo, run.id)
        except GithubError as exc:
            log.error("cancelling run %d failed: %s", run.id, exc)
            return f"workflow run {run.html_url}\ndeploybot: cancelling it failed: {exc}"
        return f"workflow run {run.html_url}\ndeploybot: cancelled the run"


async def _tell(
    on_progress: OnProgress | None, progress: RunProgress, on_output: OnOutput | None
) -> None:
    """At most one report per poll; a failing callback is logged, the deploy goes on."""
    try:
        if on_progress is not None:
            await on_progress(progress)
        if on_output is not None:
            await on_output(progress.text())
    except Exception:
        log.warning("a progress callback failed; the deploy goes on", exc_info=True)
