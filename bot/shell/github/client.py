"""A small typed GitHub REST client: workflow runs, Deployments, compares and commit status.

Built on gidgethub (6.x, on aiohttp, which deploybot already runs on): it is small and does
no retrying of its own, so this module decides every retry. That matters here because a
``workflow_dispatch`` is not idempotent: a client that retried a POST by itself after a
5xx could start a second deploy. githubkit is typed end to end but brings httpx plus a
cache library with a known import break (hishel 2); we read only a handful of response
shapes, which the pydantic models of bot/shell/github/models.py cover.

Auth is ``GITHUB_TOKEN`` or a GitHub App (id, private key, installation id): see
bot/shell/github/auth.py. ``GITHUB_API_URL`` sets the base URL (GitHub Enterprise, a local
fake; ``DEFAULT_API_URL`` otherwise).

Errors (``GithubError`` and its kinds, bot/shell/github/errors.py) say whether GitHub may have
acted on a request. Retries (bounded, ``timings.attempts`` tries in all; ``ApiTimings``,
bot/shell/github/timings.py): a rate limit (403 or 429 with ``x-ratelimit-remaining: 0`` /
``x-ratelimit-reset``, or ``retry-after``) waits what GitHub asks, capped at
``timings.max_wait_s``; a 5xx, a timeout or a dropped connection backs off
exponentially. Reads retry both; creating a Deployment retries only rate limits (GitHub
did not act on those); a dispatch is never retried here (see bot/shell/github/workflow_deployer.py).
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Literal

import aiohttp
import gidgethub
from gidgethub.aiohttp import GitHubAPI

from bot.shell.github.auth import AppAuth, TokenAuth, Tokens
from bot.shell.github.errors import GithubRateLimited, GithubUnavailable, classify
from bot.shell.github.models import (
    CombinedStatus,
    Comparison,
    Deployment,
    RunJob,
    WorkflowRun,
)
from bot.shell.github.timings import DEFAULT_API_TIMINGS, ApiTimings

__all__ = ["DEFAULT_API_URL", "GithubClient"]

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.github.com"
_Retry = Literal["all", "limits", "none"]
_RUNS_PER_PAGE = 100


class GithubClient:
    def __init__(
        self,
        *,
        auth: TokenAuth | AppAuth,
        base_url: str = DEFAULT_API_URL,
        timings: ApiTimings = DEFAULT_API_TIMINGS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        now_s: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout_s = timings.timeout_s
        self._attempts = timings.attempts
        self._backoff_s = timings.backoff_s
        self._max_wait_s = timings.max_wait_s
        self._sleep = sleep
        self._now_s = now_s
        self._session: aiohttp.ClientSession | None = None
        self._gh: GitHubAPI | None = None
        self._tokens = Tokens(auth, post_as_app=self._post_as_app, now_s=now_s)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session, self._gh = None, None

    async def __aenter__(self) -> "GithubClient":
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    # -- the endpoints deploybot uses ----------------------------------------------------

    async def dispatch_workflow(
        self, owner: str, repo: str, workflow_file: str, *, ref: str, inputs: dict[str, str]
    ) -> None:
        """One POST, never retried: the caller looks for the run before dispatching again."""
        url = f"/repos/{owner}/{repo}/actions/workflows/{workflow_file}/dispatches"
        await self._request("POST", url, {}, {"ref": ref, "inputs": inputs}, retry="none")

    async def workflow_runs(
        self,
        owner: str,
        repo: str,
        workflow_file: str,
        *,
        created_after: datetime,
        event: str = "workflow_dispatch",
        max_pages: int = 5,
    ) -> list[WorkflowRun]:
        """Runs of one workflow created at or after ``created_after``, newest first."""
        url = f"/repos/{owner}/{repo}/actions/workflows/{workflow_file}/runs"
        since = created_after.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        runs: list[WorkflowRun] = []
        for page in range(1, max_pages + 1):
            data = await self._request(
                "GET",
                url + "{?event,created,per_page,page}",
                {"event": event, "created": f">={since}", "per_page": _RUNS_PER_PAGE, "page": page},
                b"",
            )
            batch = [WorkflowRun.model_validate(r) for r in _field(data, "workflow_runs")]
            runs.extend(batch)
            if len(batch) < _RUNS_PER_PAGE:
                break
        return runs

    async def run(self, owner: str, repo: str, run_id: int) -> WorkflowRun:
        url = f"/repos/{owner}/{repo}/actions/runs/{run_id}"
        return WorkflowRun.model_validate(await self._request("GET", url, {}, b""))

    async def run_jobs(self, owner: str, repo: str, run_id: int) -> list[RunJob]:
        url = f"/repos/{owner}/{repo}/actions/runs/{run_id}/jobs{{?per_page}}"
        data = await self._request("GET", url, {"per_page": 100}, b"")
        return [RunJob.model_validate(j) for j in _field(data, "jobs")]

    async def cancel_run(self, owner: str, repo: str, run_id: int) -> None:
        """Cancelling twice is harmless, so this one retries like a read."""
        url = f"/repos/{owner}/{repo}/actions/runs/{run_id}/cancel"
        await self._request("POST", url, {}, b"", retry="all")

    async def create_deployment(
        self, owner: str, repo: str, *, ref: str, environment: str, description: str,
        payload: dict[str, str | int],
    ) -> Deployment:  # fmt: skip
        body = {
            "ref": ref,
            "environment": environment,
            "description": description,
            "payload": payload,
            "auto_merge": False,
            "required_contexts": [],
            "task": "deploy",
        }
        url = f"/repos/{owner}/{repo}/deployments"
        return Deployment.model_validate(await self._request("POST", url, {}, body, retry="limits"))

    async def deployments(
        self, owner: str, repo: str, *, sha: str, environment: str
    ) -> list[Deployment]:
        url = f"/repos/{owner}/{repo}/deployments{{?sha,environment,per_page}}"
        data = await self._request(
            "GET", url, {"sha": sha, "environment": environment, "per_page": 100}, b""
        )
        return [Deployment.model_validate(d) for d in (data if isinstance(data, list) else [])]

    async def create_deployment_status(
        self, owner: str, repo: str, deployment_id: int, *, state: str, log_url: str = "",
        description: str = "",
    ) -> None:  # fmt: skip
        url = f"/repos/{owner}/{repo}/deployments/{deployment_id}/statuses"
        body: dict[str, str] = {"state": state, "description": description[:140]}
        if log_url:
            body["log_url"] = log_url
        await self._request("POST", url, {}, body, retry="limits")

    async def compare(self, owner: str, repo: str, base: str, head: str) -> Comparison:
        url = f"/repos/{owner}/{repo}/compare/{{basehead}}"
        data = await self._request("GET", url, {"basehead": f"{base}...{head}"}, b"")
        return Comparison.model_validate(data)

    async def commit_status(self, owner: str, repo: str, ref: str) -> CombinedStatus:
        url = f"/repos/{owner}/{repo}/commits/{{ref}}/status"
        return CombinedStatus.model_validate(await self._request("GET", url, {"ref": ref}, b""))

    # -- requests, auth and retries ------------------------------------------------------

    async def _request(
        self,
        method: str,
        url: str,
        url_vars: Mapping[str, str | int],
        data: object,
        *,
        retry: _Retry = "all",
        jwt: str | None = None,
    ) -> object:
        attempt = 1
        while True:
            try:
                return await self._once(method, url, url_vars, data, jwt=jwt)
            except GithubRateLimited as exc:
                if retry == "none" or attempt >= self._attempts:
                    raise
                wait_s = min(exc.wait_s, self._max_wait_s)
            except GithubUnavailable:
                if retry != "all" or attempt >= self._attempts:
                    raise
                wait_s = min(self._backoff_s * 2 ** (attempt - 1), self._max_wait_s)
            log.warning("GitHub %s %s: retrying in %.1f s", method, url.split("{")[0], wait_s)
            await self._sleep(wait_s)
            attempt += 1

    async def _once(
        self,
        method: str,
        url: str,
        url_vars: Mapping[str, str | int],
        data: object,
        *,
        jwt: str | None,
    ) -> object:
        gh = self._client()
        token = None if jwt is not None else await self._tokens.token()
        try:
            async with asyncio.timeout(self._timeout_s):
                if method == "GET":
                    return await gh.getitem(url, url_vars, jwt=jwt, oauth_token=token)
                return await gh.post(url, url_vars, data=data, jwt=jwt, oauth_token=token)
        except gidgethub.HTTPException as exc:
            headers = {k.lower(): v for k, v in exc.headers.items()}
            message = str(exc)[:200]
            raise classify(int(exc.status_code), headers, message, now_s=self._now_s()) from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise GithubUnavailable(f"no answer from GitHub: {type(exc).__name__}") from exc

    def _client(self) -> GitHubAPI:
        if self._gh is None:
            self._session = aiohttp.ClientSession()
            self._gh = GitHubAPI(self._session, "deploybot", base_url=self.base_url)
        return self._gh

    async def _post_as_app(self, url: str, jwt: str) -> object:
        return await self._request("POST", url, {}, b"", retry="all", jwt=jwt)


def _field(data: object, name: str) -> list[object]:
    value = data.get(name) if isinstance(data, dict) else None
    return list(value) if isinstance(value, list) else []
