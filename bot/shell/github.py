"""A small typed GitHub REST client: workflow runs, Deployments, compares and commit status.

Built on gidgethub (6.x, on aiohttp, which deploybot already runs on): it is small and does
no retrying of its own, so this module decides every retry. That matters here because a
``workflow_dispatch`` is not idempotent: a client that retried a POST by itself after a
5xx could start a second deploy. githubkit is typed end to end but brings httpx plus a
cache library with a known import break (hishel 2); we read only a handful of response
shapes, which the pydantic models below cover.

Auth is ``GITHUB_TOKEN`` or a GitHub App (id, private key, installation id): the App's
installation token is fetched with a short-lived JWT and cached until shortly before it
expires. ``GITHUB_API_URL`` sets the base URL (GitHub Enterprise, a local fake).

Retries (bounded, ``attempts`` tries in all): a rate limit (403 or 429 with
``x-ratelimit-remaining: 0`` / ``x-ratelimit-reset``, or ``retry-after``) waits what GitHub
asks, capped at ``max_wait_s``; a 5xx, a timeout or a dropped connection backs off
exponentially. Reads retry both; creating a Deployment retries only rate limits (GitHub
did not act on those); a dispatch is never retried here (see bot/shell/workflow.py).
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
from gidgethub.apps import get_jwt
from pydantic import BaseModel, ConfigDict, SecretStr

from bot.app.settings import Settings
from bot.core.errors import ConfigError
from bot.core.github_models import (
    CombinedStatus,
    Comparison,
    Deployment,
    InstallationToken,
    RunJob,
    WorkflowRun,
)

__all__ = [
    "AppAuth",
    "GithubClient",
    "GithubError",
    "GithubRateLimited",
    "GithubRefused",
    "GithubUnavailable",
    "TokenAuth",
    "classify",
    "client_from_settings",
]

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.github.com"
_Retry = Literal["all", "limits", "none"]
_RUNS_PER_PAGE = 100


class TokenAuth(BaseModel):
    model_config = ConfigDict(frozen=True)
    token: SecretStr


class AppAuth(BaseModel):
    model_config = ConfigDict(frozen=True)
    app_id: int
    private_key: SecretStr
    installation_id: int
    refresh_before_s: float = 300  # fetch a new installation token this long before expiry


class GithubError(Exception):
    """A GitHub request that did not succeed; ``status`` is None when no answer came."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class GithubRateLimited(GithubError):
    """Refused for a rate limit: GitHub did not act on it. ``wait_s``: what it asked for."""

    def __init__(self, message: str, *, status: int, wait_s: float) -> None:
        super().__init__(message, status=status)
        self.wait_s = wait_s


class GithubUnavailable(GithubError):
    """A 5xx, a timeout or a lost connection: GitHub may or may not have acted on it."""


class GithubRefused(GithubError):
    """Any other 4xx: GitHub did not act on it and will not on a retry."""


def classify(status: int, headers: Mapping[str, str], message: str, *, now_s: float) -> GithubError:
    """The error for an answer that was not 2xx (headers: lowercase keys)."""
    retry_after = headers.get("retry-after")
    remaining = headers.get("x-ratelimit-remaining")
    reset = headers.get("x-ratelimit-reset")
    limited = status == 429 or (status == 403 and (retry_after is not None or remaining == "0"))
    if limited:
        wait_s = 60.0  # GitHub's advice when it says nothing (or nothing we can read)
        if (after_s := _seconds(retry_after)) is not None:
            wait_s = after_s
        elif remaining == "0" and (reset_s := _seconds(reset)) is not None:
            wait_s = max(0.0, reset_s - now_s)
        return GithubRateLimited(
            f"rate limited ({status}): {message}", status=status, wait_s=wait_s
        )
    if status >= 500:
        return GithubUnavailable(f"GitHub answered {status}: {message}", status=status)
    return GithubRefused(f"GitHub answered {status}: {message}", status=status)


class GithubClient:
    def __init__(
        self,
        *,
        auth: TokenAuth | AppAuth,
        base_url: str = DEFAULT_API_URL,
        timeout_s: float = 10,
        attempts: int = 4,
        backoff_s: float = 1,
        max_wait_s: float = 60,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        now_s: Callable[[], float] = time.time,
    ) -> None:
        if attempts < 1 or timeout_s <= 0 or backoff_s < 0 or max_wait_s < 0:
            raise ValueError("attempts >= 1, timeout_s > 0, backoff_s and max_wait_s >= 0")
        self._auth = auth
        self.base_url = base_url.rstrip("/")
        self._timeout_s = timeout_s
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._max_wait_s = max_wait_s
        self._sleep = sleep
        self._now_s = now_s
        self._session: aiohttp.ClientSession | None = None
        self._gh: GitHubAPI | None = None
        self._installation: InstallationToken | None = None
        self._token_lock = asyncio.Lock()

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
        token = None if jwt is not None else await self._token()
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

    async def _token(self) -> str:
        match self._auth:
            case TokenAuth(token=token):
                return token.get_secret_value()
            case AppAuth() as app:
                async with self._token_lock:
                    cached = self._installation
                    if cached is None or self._now_s() >= (
                        cached.expires_at.timestamp() - app.refresh_before_s
                    ):
                        cached = self._installation = await self._fetch_installation(app)
                    return cached.token.get_secret_value()

    async def _fetch_installation(self, app: AppAuth) -> InstallationToken:
        jwt = get_jwt(app_id=str(app.app_id), private_key=app.private_key.get_secret_value())
        url = f"/app/installations/{app.installation_id}/access_tokens"
        data = await self._request("POST", url, {}, b"", retry="all", jwt=jwt)
        return InstallationToken.model_validate(data)


def _seconds(value: str | None) -> float | None:
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None  # e.g. an HTTP date in retry-after
    return seconds if seconds is not None and 0 <= seconds < 1e11 else None


def _field(data: object, name: str) -> list[object]:
    value = data.get(name) if isinstance(data, dict) else None
    return list(value) if isinstance(value, list) else []


def client_from_settings(settings: Settings, *, timeout_s: float = 10) -> GithubClient | None:
    """The client the settings ask for: a GitHub App when its three values are set, else
    ``GITHUB_TOKEN``; None when neither is. Half an App is a ConfigError naming what is
    missing."""
    app = {
        "GITHUB_APP_ID": settings.github_app_id,
        "GITHUB_APP_PRIVATE_KEY": settings.github_app_private_key,
        "GITHUB_APP_INSTALLATION_ID": settings.github_app_installation_id,
    }
    missing = [name for name, value in app.items() if value is None]
    base_url = str(settings.github_api_url) if settings.github_api_url else DEFAULT_API_URL
    auth: TokenAuth | AppAuth
    if len(missing) < len(app):
        if missing:
            raise ConfigError(f"a GitHub App also needs {', '.join(missing)}")
        assert settings.github_app_id is not None
        assert settings.github_app_private_key is not None
        assert settings.github_app_installation_id is not None
        auth = AppAuth(
            app_id=settings.github_app_id,
            private_key=settings.github_app_private_key,
            installation_id=settings.github_app_installation_id,
        )
    elif settings.github_token is not None:
        auth = TokenAuth(token=settings.github_token)
    else:
        return None
    return GithubClient(auth=auth, base_url=base_url, timeout_s=timeout_s)
