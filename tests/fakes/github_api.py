"""A local fake of the GitHub REST API, for the workflow deploy target and the evidence card.

``FakeGithub`` (aiohttp, a free 127.0.0.1 port, in the test's own event loop) answers:

    POST /repos/{o}/{r}/actions/workflows/{file}/dispatches      204, starts a run
    GET  /repos/{o}/{r}/actions/workflows/{file}/runs            event, created>=, paging
    GET  /repos/{o}/{r}/actions/runs/{id}   and  .../{id}/jobs   status from the run's clock
    POST /repos/{o}/{r}/actions/runs/{id}/cancel                 202 (409 once completed)
    POST /repos/{o}/{r}/deployments, GET (sha, environment), POST .../{id}/statuses
    GET  /repos/{o}/{r}/compare/{base}...{head}, GET /repos/{o}/{r}/commits/{ref}/status
    POST /app/installations/{id}/access_tokens                   (a GitHub App's JWT checked)

Every call is recorded (method, path, query, json, status, monotonic time). The bearer or
``token`` header must be the fake's token or an installation token it issued. A dispatched
run's ``display_title`` is ``run_name`` filled from its inputs, like a workflow's
``run-name``; it plays queued -> in_progress -> completed on a scripted conclusion and
timing (``script``). ``add_run`` pre-populates runs started by other people (``on_dispatch``
can add them the moment a dispatch arrives, before it is answered). ``fail``
injects a fault on the next call(s) of a route: ``403`` (rate limit with reset), ``429``
(retry-after), ``500``, or ``500-after-create`` (a dispatch that starts its run, then 500s).

Rude like the real one, where asked (the defaults keep the old, polite behaviour):

- ``list_delay_s=(lo, hi)``: a dispatched run shows in the runs list only that long after its
  dispatch (uniform, seeded by ``seed``); ``GET .../runs/{id}`` knows it at once;
- ``Script.cancel_s``: a cancelled run goes on that long (in_progress), then completes
  ``cancelled`` (or with its own conclusion if it ended first); ``float("inf")``: never;
- lists are paginated (``per_page`` default 30, at most 100, like GitHub);
- ``rate_limit(requests, window_s)``: a primary rate limit, 403 with
  ``x-ratelimit-remaining: 0`` and the window's reset once the budget is spent.

``overlaps()`` counts dispatched runs of one repository and environment input whose lives
(dispatch to completion, by the fake's clock) intersect.
"""

import asyncio
import itertools
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Literal, Self

import jwt
from aiohttp import web

__all__ = ["Call", "FakeGithub", "FakeRun", "Script"]

Fault = Literal["403", "429", "500", "500-after-create"]
_STEPS = ["Set up job", "Checkout", "Deploy", "Complete job"]


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    json: Any
    status: int = 0
    at_s: float = field(default_factory=time.monotonic)


@dataclass
class Script:
    """How the next dispatched run plays: seconds queued, seconds running, conclusion."""

    queued_s: float = 0.05
    running_s: float = 0.3
    conclusion: str = "success"
    jobs: list[str] = field(default_factory=lambda: ["build", "deploy"])
    failing_step: str = "Deploy"  # the step that fails when the conclusion is failure
    cancel_s: float = 0.0  # how long it goes on after a cancel (inf: the cancel never takes)


@dataclass
class FakeRun:
    id: int
    repo: str  # owner/repo
    workflow: str
    display_title: str
    event: str
    created_at: datetime
    script: Script
    inputs: dict[str, str] = field(default_factory=dict)
    ref: str = "main"
    started_s: float = field(default_factory=time.monotonic)
    cancelled_at_s: float | None = None
    listed_s: float = 0.0  # monotonic time from which the runs list shows it

    def ends_s(self) -> float:
        """When it completes (monotonic): its script's end, or a cancel taking hold."""
        natural = self.started_s + self.script.queued_s + self.script.running_s
        if self.cancelled_at_s is None:
            return natural
        return min(natural, self.cancelled_at_s + self.script.cancel_s)

    def elapsed_s(self) -> float:
        return min(time.monotonic(), self.ends_s()) - self.started_s

    def status(self) -> tuple[str, str | None]:
        if time.monotonic() >= self.ends_s():
            natural = self.started_s + self.script.queued_s + self.script.running_s
            cancelled = self.cancelled_at_s is not None and self.ends_s() < natural
            return "completed", "cancelled" if cancelled else self.script.conclusion
        if self.elapsed_s() < self.script.queued_s:
            return "queued", None
        return "in_progress", None

    def as_json(self, base: str) -> dict[str, Any]:
        status, conclusion = self.status()
        return {
            "id": self.id,
            "name": self.workflow,
            "display_title": self.display_title,
            "event": self.event,
            "status": status,
            "conclusion": conclusion,
            "head_branch": self.ref,
            "html_url": f"{base}/{self.repo}/actions/runs/{self.id}",
            "created_at": self.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "run_attempt": 1,
        }

    def jobs(self, base: str) -> list[dict[str, Any]]:
        """Jobs one after the other over the running time, steps evenly within each."""
        status, conclusion = self.status()
        names = self.script.jobs
        t = self.elapsed_s() - self.script.queued_s
        per_job = self.script.running_s / len(names)
        out = []
        for i, name in enumerate(names):
            into = t - i * per_job
            last = i == len(names) - 1
            steps = []
            for n, step in enumerate(_STEPS, start=1):
                begun = into >= (n - 1) * per_job / len(_STEPS)
                done = into >= n * per_job / len(_STEPS) or status == "completed"
                s_status = "completed" if done and begun else "in_progress" if begun else "queued"
                s_concl = "success" if s_status == "completed" else None
                if status == "completed" and not begun:
                    s_status, s_concl = "completed", "skipped"
                if last and status == "completed" and conclusion != "success":
                    if step == self.script.failing_step:
                        s_status, s_concl = "completed", conclusion
                    elif n > _STEPS.index(self.script.failing_step) + 1:
                        s_concl = "skipped"
                steps.append({"name": step, "status": s_status, "conclusion": s_concl, "number": n})
            j_status = (
                "completed"
                if status == "completed" or into >= per_job
                else ("in_progress" if into >= 0 else "queued")
            )
            j_concl = None
            if j_status == "completed":
                j_concl = conclusion if (last and status == "completed") else "success"
            out.append(
                {
                    "id": self.id * 10 + i,
                    "name": name,
                    "status": j_status,
                    "conclusion": j_concl,
                    "html_url": f"{base}/{self.repo}/actions/runs/{self.id}/job/{i}",
                    "steps": steps,
                }
            )
        return out


@dataclass
class FakeGithub:
    token: str = "ghp-test-token"
    run_name: str = "deploy {version} to {environment} [{deploybot_key}]"
    app_id: int | None = None  # with app_public_key: a GitHub App's installation tokens
    app_public_key: bytes | None = None
    installation_id: int = 42
    token_lifetime_s: float = 3600
    html_base: str = "https://github.test"
    compare_commits: list[dict[str, Any]] = field(default_factory=list)
    # What the compare answers besides its commits: None is "ahead" (or "identical" with no
    # commits); "behind" or "diverged" with how many commits of the base the head lacks.
    compare_status: tuple[str, int] | None = None
    commit_states: dict[str, str] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    runs: list[FakeRun] = field(default_factory=list)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    statuses: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    scripts: list[Script] = field(default_factory=list)
    base_url: str = ""
    dispatched: asyncio.Event = field(default_factory=asyncio.Event)  # set by each dispatch
    # Called with each dispatched run before the 204 goes out (e.g. to add other people's
    # runs the dispatcher's first lookup must already see).
    on_dispatch: Callable[[FakeRun], None] | None = None
    list_delay_s: tuple[float, float] = (0.0, 0.0)  # a dispatched run is listed this late
    seed: int = 16
    _budget: tuple[int, float] | None = None  # requests per window, window_s
    _window: tuple[float, int] = (0.0, 0)  # this window's start (wall clock), requests in it
    _issued: set[str] = field(default_factory=set)
    _faults: dict[str, list[tuple[Fault, float]]] = field(default_factory=dict)
    _ids: "itertools.count[int]" = field(default_factory=lambda: itertools.count(1001))
    _runner: web.AppRunner | None = None
    _rng: random.Random = field(default_factory=random.Random)

    # -- what tests use ------------------------------------------------------------------

    def script(self, *scripts: Script) -> None:
        """How the next dispatched runs play, in order (then the default Script())."""
        self.scripts.extend(scripts)

    def rate_limit(self, requests: int, window_s: float) -> None:
        """At most ``requests`` calls per ``window_s``; past that, GitHub's 403 until reset."""
        self._budget = (requests, window_s)
        self._window = (time.time(), 0)

    def overlaps(self) -> list[tuple[FakeRun, FakeRun]]:
        """Dispatched runs of one repository and environment whose lives intersect."""
        dispatched = [r for r in self.runs if r.inputs]
        found = []
        for i, a in enumerate(dispatched):
            for b in dispatched[i + 1 :]:
                same = (a.repo, a.inputs.get("environment")) == (
                    b.repo,
                    b.inputs.get("environment"),
                )
                if same and a.started_s < b.ends_s() and b.started_s < a.ends_s():
                    found.append((a, b))
        return found

    def fail(self, route: str, fault: Fault, *, wait_s: float = 1, times: int = 1) -> None:
        """The next ``times`` calls of ``route`` (dispatch, runs, run, jobs, cancel,
        deployments, statuses, compare, status, token) answer ``fault``; ``wait_s`` is
        the retry-after or the distance to the rate limit's reset."""
        self._faults.setdefault(route, []).extend([(fault, wait_s)] * times)

    def add_run(
        self,
        title: str,
        *,
        repo: str = "acme/backend",
        workflow: str = "deploy.yml",
        age_s: float = 0,
        event: str = "workflow_dispatch",
        script: Script | None = None,
    ) -> FakeRun:
        """A run somebody else started ``age_s`` ago (negative: in the future, i.e. newer)."""
        run = FakeRun(
            id=next(self._ids),
            repo=repo,
            workflow=workflow,
            display_title=title,
            event=event,
            created_at=datetime.now(UTC) - timedelta(seconds=age_s),
            script=script or Script(),
        )
        self.runs.append(run)
        return run

    def called(self, route: str) -> list[Call]:
        """Calls whose path matches ``route`` (a regex searched in the path)."""
        return [c for c in self.calls if re.search(route, c.path)]

    def dispatches(self) -> list[Call]:
        return [c for c in self.called(r"/dispatches$") if c.method == "POST"]

    # -- the server ----------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        payload = await request.json() if body else None
        call = Call(request.method, request.path, dict(request.query), payload)
        self.calls.append(call)
        response = self._answer(request, call)
        call.status = response.status
        return response

    def _authorised(self, request: web.Request, route: str) -> bool:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if route == "token":
            if self.app_public_key is None or scheme.lower() != "bearer":
                return False
            try:
                claims = jwt.decode(value, self.app_public_key, algorithms=["RS256"])
            except jwt.PyJWTError:
                return False
            return str(claims.get("iss")) == str(self.app_id)
        return scheme.lower() in ("token", "bearer") and (
            value == self.token or value in self._issued
        )

    def _answer(self, request: web.Request, call: Call) -> web.Response:
        path = request.path
        route, match = _route(request.method, path)
        if route is None or match is None:
            return _error(404, "Not Found")
        if not self._authorised(request, route):
            return _error(401, "Bad credentials")
        if (limited := self._spend()) is not None:
            return limited
        if faults := self._faults.get(route):
            fault, wait_s = faults.pop(0)
            if fault == "403":
                reset = str(int(time.time() + wait_s + 0.999))
                headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}
                return _error(403, "API rate limit exceeded", headers)
            if fault == "429":
                return _error(429, "secondary rate limit", {"retry-after": f"{wait_s:g}"})
            if fault == "500":
                return _error(500, "Server Error")
            self._route_call(route, match, call)  # 500-after-create: acted on, then failed
            return _error(500, "Server Error")
        return self._route_call(route, match, call)

    def _spend(self) -> web.Response | None:
        """A call against the primary rate limit, if one is set."""
        if self._budget is None:
            return None
        requests, window_s = self._budget
        began, used = self._window
        if time.time() >= began + window_s:
            began, used = time.time(), 0
        self._window = (began, used + 1)
        if used < requests:
            return None
        reset = str(int(began + window_s + 0.999))
        headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}
        return _error(403, "API rate limit exceeded", headers)

    def _route_call(self, route: str, m: re.Match[str], call: Call) -> web.Response:
        repo = f"{m['o']}/{m['r']}" if "o" in m.groupdict() else ""
        q = call.query
        match route:
            case "dispatch":
                if not isinstance(call.json, dict) or not call.json.get("ref"):
                    return _error(422, "ref is required")
                inputs = {k: str(v) for k, v in (call.json.get("inputs") or {}).items()}
                title = re.sub(r"\{(\w+)\}", lambda x: inputs.get(x[1], ""), self.run_name)
                run = FakeRun(
                    id=next(self._ids),
                    repo=repo,
                    workflow=m["file"],
                    display_title=title,
                    event="workflow_dispatch",
                    created_at=datetime.now(UTC),
                    script=self.scripts.pop(0) if self.scripts else Script(),
                    inputs=inputs,
                    ref=str(call.json["ref"]),
                    listed_s=time.monotonic() + self._rng.uniform(*self.list_delay_s),
                )
                self.runs.append(run)
                if self.on_dispatch is not None:
                    self.on_dispatch(run)
                self.dispatched.set()
                return web.Response(status=204)
            case "runs":
                return web.json_response(self._list_runs(repo, m["file"], q))
            case "run" | "jobs" | "cancel":
                known = [r for r in self.runs if r.id == int(m["id"]) and r.repo == repo]
                if not known:
                    return _error(404, "Not Found")
                if route == "run":
                    return web.json_response(known[0].as_json(self.html_base))
                if route == "jobs":
                    jobs = known[0].jobs(self.html_base)
                    return web.json_response({"total_count": len(jobs), "jobs": jobs})
                if known[0].status()[0] == "completed":
                    return _error(409, "Cannot cancel a workflow run that is completed.")
                if known[0].cancelled_at_s is None:  # a second cancel changes nothing
                    known[0].cancelled_at_s = time.monotonic()
                return web.json_response({}, status=202)
            case "deployments":
                if call.method == "GET":
                    found = [
                        d
                        for d in reversed(self.deployments)
                        if d["repo"] == repo
                        and q.get("sha", d["sha"]) == d["sha"]
                        and q.get("environment", d["environment"]) == d["environment"]
                    ]
                    return web.json_response(found)
                body = call.json or {}
                deployment = {
                    "id": next(self._ids),
                    "repo": repo,
                    "sha": body.get("ref", ""),
                    "ref": body.get("ref", ""),
                    "environment": body.get("environment", "production"),
                    "payload": body.get("payload", {}),
                    "description": body.get("description"),
                    "request": body,
                }
                self.deployments.append(deployment)
                return web.json_response(deployment, status=201)
            case "statuses":
                did = int(m["id"])
                if not any(d["id"] == did for d in self.deployments):
                    return _error(404, "Not Found")
                status = {"id": next(self._ids), **(call.json or {})}
                self.statuses.setdefault(did, []).append(status)
                return web.json_response(status, status=201)
            case "compare":
                commits = self.compare_commits
                status, behind = self.compare_status or (
                    "ahead" if commits else "identical",
                    0,
                )
                return web.json_response(
                    {
                        "status": status,
                        "ahead_by": len(commits),
                        "behind_by": behind,
                        "total_commits": len(commits),
                        "html_url": f"{self.html_base}/{repo}/compare/{m['base']}...{m['head']}",
                        "commits": commits,
                    }
                )
            case "status":
                state = self.commit_states.get(m["ref"], "pending")
                statuses = (
                    []
                    if m["ref"] not in self.commit_states
                    else [
                        {"context": "ci", "state": state, "description": None, "target_url": None}
                    ]
                )
                return web.json_response(
                    {"state": state, "total_count": len(statuses), "statuses": statuses}
                )
            case "token":
                if int(m["id"]) != self.installation_id:
                    return _error(404, "Not Found")
                issued = f"ghs-installation-{next(self._ids)}"
                self._issued.add(issued)
                expires = datetime.now(UTC) + timedelta(seconds=self.token_lifetime_s)
                return web.json_response(
                    {"token": issued, "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ")},
                    status=201,
                )
        return _error(404, "Not Found")

    def _list_runs(self, repo: str, workflow: str, q: dict[str, str]) -> dict[str, Any]:
        now = time.monotonic()
        runs = [
            r for r in self.runs if r.repo == repo and r.workflow == workflow and r.listed_s <= now
        ]
        if event := q.get("event"):
            runs = [r for r in runs if r.event == event]
        if created := q.get("created"):
            since = datetime.fromisoformat(created.removeprefix(">=").replace("Z", "+00:00"))
            runs = [r for r in runs if r.created_at.replace(microsecond=0) >= since]
        runs.sort(key=lambda r: r.created_at, reverse=True)  # newest first, as GitHub does
        per_page = min(int(q.get("per_page", "30")), 100)
        page = int(q.get("page", "1"))
        chosen = runs[(page - 1) * per_page : page * per_page]
        return {
            "total_count": len(runs),
            "workflow_runs": [r.as_json(self.html_base) for r in chosen],
        }

    async def __aenter__(self) -> Self:
        self._rng.seed(self.seed)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


_REPO = r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)"
_ROUTES: list[tuple[str, str, re.Pattern[str]]] = [
    ("POST", "dispatch", re.compile(_REPO + r"/actions/workflows/(?P<file>[^/]+)/dispatches$")),
    ("GET", "runs", re.compile(_REPO + r"/actions/workflows/(?P<file>[^/]+)/runs$")),
    ("GET", "run", re.compile(_REPO + r"/actions/runs/(?P<id>\d+)$")),
    ("GET", "jobs", re.compile(_REPO + r"/actions/runs/(?P<id>\d+)/jobs$")),
    ("POST", "cancel", re.compile(_REPO + r"/actions/runs/(?P<id>\d+)/cancel$")),
    ("POST", "deployments", re.compile(_REPO + r"/deployments$")),
    ("GET", "deployments", re.compile(_REPO + r"/deployments$")),
    ("POST", "statuses", re.compile(_REPO + r"/deployments/(?P<id>\d+)/statuses$")),
    ("GET", "compare", re.compile(_REPO + r"/compare/(?P<base>[^/]+?)\.\.\.(?P<head>[^/]+)$")),
    ("GET", "status", re.compile(_REPO + r"/commits/(?P<ref>[^/]+)/status$")),
    ("POST", "token", re.compile(r"/app/installations/(?P<id>\d+)/access_tokens$")),
]


def _route(method: str, path: str) -> tuple[str | None, re.Match[str] | None]:
    for want, name, pattern in _ROUTES:
        if method == want and (m := pattern.search(path)):
            return name, m
    return None, None


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"message": message, "documentation_url": "https://docs.github.com/rest"}
    return web.json_response(body, status=status, headers=headers)
