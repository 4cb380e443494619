"""Dispatching a workflow and finding the run the dispatch started.

A ``workflow_dispatch`` answers 204 with no run id: the run is found by the idempotency key
its title shows (bot/shell/github/runs.py), looking for ``find_s`` after the dispatch,
because GitHub lists a run seconds after its dispatch, sometimes tens of seconds.

What each answer says about GitHub's side decides what follows:

- 204: GitHub accepted it and will start a run; no run shown within ``find_s`` is an unknown
  outcome (``MayHaveStarted``), never a failure: GitHub may still start it;
- a refusal (4xx): nothing started (``NotStarted``);
- a rate limit: GitHub did not act on it; after the wait GitHub asks for, and a look for a
  run with the key, it is dispatched again (``attempts`` in all);
- a 5xx or no answer: GitHub may have started a run, so it is never dispatched again: its run
  is looked for as after a 204.

Nothing is dispatched later than ``dispatch_s`` after the deploy began (rate limits), so a
worker recovering the deploy knows until when a run may appear: ``dispatch_s + find_s``
after ``deploy_started``.
"""

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.core.config.service import GithubWorkflow
from bot.core.reports import workflow_runs as words
from bot.core.thread.plan import Plan
from bot.shell.github.client import GithubClient
from bot.shell.github.errors import GithubError, GithubRateLimited, GithubRefused
from bot.shell.github.models import WorkflowRun
from bot.shell.github.run_rules import fill_inputs
from bot.shell.github.runs import MayHaveStarted, NotStarted, WorkflowRuns
from bot.shell.github.timings import WorkflowTimings

__all__ = ["Dispatcher"]

log = logging.getLogger(__name__)


class Dispatcher:
    def __init__(
        self,
        *,
        client: GithubClient,
        runs: WorkflowRuns,
        now: Callable[[], datetime],
        timings: WorkflowTimings,
    ) -> None:
        if timings.find_s <= 0 or timings.dispatch_s <= 0 or timings.dispatch_attempts < 1:
            raise ValueError("find_s > 0, dispatch_s > 0, attempts >= 1")
        self._client = client
        self._runs = runs
        self._now = now
        self.find = timedelta(seconds=timings.find_s)
        self.dispatch = timedelta(seconds=timings.dispatch_s)
        self.margin = timedelta(seconds=timings.created_margin_s)
        self._attempts = timings.dispatch_attempts
        self._max_wait_s = timings.max_wait_s

    def window(self, started_at: datetime) -> tuple[datetime, datetime]:
        """For a deploy begun at ``started_at``: its run is created after the first and
        listed by GitHub before the second, if ever (``created>=`` has a margin for skew)."""
        return started_at - self.margin, started_at + self.dispatch + self.find

    async def start(
        self, target: GithubWorkflow, plan: Plan, key: str, *, begun: datetime
    ) -> WorkflowRun:
        """The run of this deploy's dispatch; NotStarted or MayHaveStarted when none shows."""
        inputs = fill_inputs(target, plan=plan, idempotency_key=key)
        since = begun - self.margin
        tries = 0
        while tries < self._attempts and self._now() <= begun + self.dispatch:
            tries += 1
            try:
                await self._client.dispatch_workflow(
                    target.owner, target.repo, target.workflow_file, ref=target.ref, inputs=inputs
                )
            except GithubRefused as exc:
                raise NotStarted(words.dispatch_refused_text(why=exc)) from exc
            except GithubRateLimited as exc:
                # GitHub did not act on it; still, look before dispatching again.
                log.warning("dispatch %d rate limited; waiting %.1f s", tries, exc.wait_s)
                await asyncio.sleep(min(exc.wait_s, self._max_wait_s))
                try:
                    if (run := await self._runs.find(target, key, since)) is not None:
                        return run
                except GithubError as err:
                    raise NotStarted(words.rate_limited_unasked_text(why=err)) from err
                continue
            except GithubError as exc:  # the answer was lost: GitHub may have started a run
                log.warning("dispatch %d answer lost (%s); looking for its run", tries, exc)
                lost = words.answer_lost_what(why=exc)
                return await self._found(target, key, since, lost)
            return await self._found(target, key, since, words.accepted_what())
        within_s = self.dispatch.total_seconds()
        raise NotStarted(words.rate_limited_out_text(tries=tries, within_s=within_s))

    async def _found(
        self, target: GithubWorkflow, key: str, since: datetime, what: str
    ) -> WorkflowRun:
        """The run of a dispatch GitHub may have acted on; MayHaveStarted when none shows."""
        try:
            run = await self._runs.find_until(target, key, since, self._now() + self.find)
        except GithubError as exc:
            raise MayHaveStarted(words.run_unasked_text(what=what, why=exc)) from exc
        if run is None:
            find_s = self.find.total_seconds()
            raise MayHaveStarted(
                words.no_run_shown_text(what=what, find_s=find_s, key_input=target.key_input)
            )
        return run
