"""Workflow runs: finding the run a dispatch started, following it, cancelling it.

A run is found by the idempotency key in its ``display_title`` (the workflow's ``run-name``
must show ``${{ inputs.deploybot_key }}``), among the workflow's dispatched runs created since
a given time: never "the newest run". When several show the key, the first (lowest id) is
followed. GitHub lists a dispatched run seconds after the dispatch (sometimes tens of
seconds), so "no run" is concluded only once a window has passed, on the injected clock.
Following reads the run and its jobs every ``poll_s`` until GitHub says it ``completed``, and
reports progress (status, job, step, link) when it changes; a read GitHub did not answer
(5xx, timeout, rate limit) is tried again at the next poll. Cancelling is asynchronous on
GitHub (the run goes on for a while): a cancelled run is over only when GitHub reports it
completed. bot/shell/github/workflow_deployer.py dispatches the run and says what it came to.
"""

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from bot.core.config.service import GithubWorkflow
from bot.core.reports import workflow_runs as words
from bot.core.thread.deploy_result import OnOutput
from bot.shell.github.client import GithubClient
from bot.shell.github.errors import GithubError, GithubRateLimited, GithubUnavailable
from bot.shell.github.models import RunJob, WorkflowRun
from bot.shell.github.run_rules import OnProgress, RunProgress, has_key, progress_of

__all__ = ["MayHaveStarted", "NotStarted", "WorkflowRuns"]

log = logging.getLogger(__name__)


class NotStarted(Exception):
    """No run of ours exists or ever will (GitHub refused the dispatch or never got it); the
    message says why."""


class MayHaveStarted(Exception):
    """GitHub may have started a run (it accepted the dispatch, or its answer was lost) that
    could not be found: nobody knows how it ends. The message says what is known."""


class WorkflowRuns:
    """The runs of the workflows deploybot dispatches, looked for and followed every
    ``poll_s``."""

    def __init__(self, *, client: GithubClient, poll_s: float, now: Callable[[], datetime]) -> None:
        if poll_s <= 0:
            raise ValueError("poll_s > 0")
        self._client = client
        self._poll_s = poll_s
        self._now = now

    async def find_until(
        self, target: GithubWorkflow, key: str, since: datetime, until: datetime
    ) -> WorkflowRun | None:
        """Look every poll until ``until`` (the injected clock); a lookup GitHub did not
        answer (5xx, no answer, a rate limit) is tried again. None: GitHub answered, and no
        run showed the key by then. A refusal (4xx), or no answer at all, raises the last
        GithubError: "no run" cannot be concluded."""
        answered = False
        last: GithubError | None = None
        while True:
            try:
                if (run := await self.find(target, key, since)) is not None:
                    return run
                answered = True
            except (GithubUnavailable, GithubRateLimited) as exc:
                log.warning("looking for the run of %s failed: %s", key, exc)
                last = exc
            if self._now() >= until:
                if not answered and last is not None:
                    raise last
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
        """Until GitHub reports ``run`` completed: the run as it ended and its jobs. A
        refusal (GithubRefused: the token lost access, the run is gone) raises."""
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
        """Ask GitHub to cancel ``run`` (it goes on for a while after); the line that says
        so, or that asking failed."""
        try:
            await self._client.cancel_run(target.owner, target.repo, run.id)
        except GithubError as exc:
            if exc.status == 409:  # GitHub: it completed meanwhile
                return words.cancel_too_late_note()
            log.error("cancelling run %d failed: %s", run.id, exc)
            return words.cancel_failed_note(why=exc)
        return words.cancel_asked_note()

    async def until_completed(
        self, target: GithubWorkflow, run: WorkflowRun, within_s: float
    ) -> tuple[WorkflowRun, list[RunJob]] | None:
        """The run once GitHub reports it completed, waiting up to ``within_s``; None when it
        did not within that, or GitHub refused to show it."""
        try:
            async with asyncio.timeout(within_s):
                return await self.follow(target, run, None, None)
        except TimeoutError:
            return None
        except GithubError as exc:
            log.error("run %d: GitHub refused to show it: %s", run.id, exc)
            return None


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
