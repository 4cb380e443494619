"""Evidence for an approval request, gathered from data (git, the GitHub API), never from
model text: what is live, who asked, the commits the plan would add (or, for a rollback,
remove), a compare link and the planned commit's CI status when the repository is on GitHub.

Where the facts come from:

- a repository on a local path (a bare repo or a working clone): the commits of
  ``live..planned`` (rollback: ``planned..live``), newest first, and their count, read
  in-process (``gitrepo``: no ``git`` process; kept once known when both ends are full
  shas, so the live re-check of the same plan costs nothing), else, where libgit2 cannot
  open the repository, by ``git log`` and ``git rev-list --count`` (``gitcli``: no terminal
  prompts, ``LC_ALL=C``, redacted errors, a timeout);
- a repository on GitHub (``https://github.com/o/r(.git)``, ``git@github.com:o/r.git``,
  ``ssh://git@github.com/o/r``, or the host of ``GITHUB_API_URL`` for GitHub Enterprise):
  the compare API (count, commits, ``html_url``) and the combined commit status of the
  planned commit;
- anything else (another git host): no commit range, and the note says why.

Gathering never raises and never takes longer than ``timeout_s``: whatever fails (git, a
GitHub 5xx, a timeout, no GitHub client configured) leaves an Evidence with what is known
and a short ``note``. A plan is never blocked or failed by its evidence.
"""

import asyncio
import logging
import re
from collections.abc import Awaitable
from typing import Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from bot.core.config.config import Config
from bot.core.errors import ToolFailed
from bot.core.reports import evidence_notes as words
from bot.core.thread.plan import CommitInfo, Evidence, Plan
from bot.core.wording.evidence import outside_text
from bot.core.wording.redact import compact_tail, redact
from bot.shell.github.client import GithubClient
from bot.shell.github.errors import GithubError
from bot.shell.github.models import CombinedStatus, Comparison
from bot.shell.world import gitrepo
from bot.shell.world.gitcli import range_by_git

__all__ = ["COMMITS_SHOWN", "EvidenceGatherer", "GithubRepo", "github_repo"]

log = logging.getLogger(__name__)

COMMITS_SHOWN = 5  # the newest few commits an approver sees
FIRST_DEPLOY_CAP = 1000  # a first deploy counts no further than this
_SHA = re.compile(r"^[0-9a-f]{7,64}$")
_NAME = r"[A-Za-z0-9_.-]+"
_SCP = re.compile(rf"^[\w.-]+@(?P<host>[\w.-]+):/?(?P<owner>{_NAME})/(?P<repo>{_NAME})/?$")
_PATH = re.compile(rf"^/(?P<owner>{_NAME})/(?P<repo>{_NAME})/?$")
_SUBJECT_KEPT = 200  # what is stored; the card cuts shorter
_AUTHOR_KEPT = 100
_CiState = Literal["success", "failure", "pending", "error", "unknown"]
_T = TypeVar("_T")


class GithubRepo(BaseModel):
    model_config = ConfigDict(frozen=True)

    owner: str
    name: str
    web_url: str  # https://github.com, or an Enterprise host's web root

    def commit_url(self, sha: str) -> str:
        return f"{self.web_url}/{self.owner}/{self.name}/commit/{sha}"


def github_repo(location: str, *, api_url: str | None = None) -> GithubRepo | None:
    """The GitHub repository ``location`` names, or None when it is not on GitHub (nor on
    the Enterprise host of ``api_url``)."""
    hosts = {"github.com", "www.github.com"}
    if api_url and (api_host := urlsplit(api_url).hostname) and api_host != "api.github.com":
        hosts.add(api_host.lower())
    if scp := _SCP.match(location):
        host, owner, repo, scheme = scp["host"], scp["owner"], scp["repo"], "https"
    else:
        parts = urlsplit(location)
        path = _PATH.match(parts.path)
        if parts.scheme not in ("https", "http", "ssh", "git") or not parts.hostname or not path:
            return None
        host, owner, repo = parts.hostname, path["owner"], path["repo"]
        scheme = "http" if parts.scheme == "http" else "https"
    host = host.lower()
    if host not in hosts:
        return None
    repo = repo.removesuffix(".git")
    if not repo or repo in (".", ".."):
        return None
    web = "https://github.com" if host == "www.github.com" else f"{scheme}://{host}"
    return GithubRepo(owner=owner, name=repo, web_url=web)


def _short(exc: BaseException) -> str:
    return (
        compact_tail(redact(str(exc), secrets=()), max_lines=1, max_chars=160) or type(exc).__name__
    )


def _commit(sha: str, subject: str, author: str) -> CommitInfo:
    """A commit as stored: outside text on one line, redacted and cut (the thread, the API
    and any prompt never hold a token someone put in a commit message)."""
    return CommitInfo(
        sha=sha,
        subject=outside_text(subject, max_chars=_SUBJECT_KEPT),
        author=outside_text(author, max_chars=_AUTHOR_KEPT),
    )


def _ci_state(status: CombinedStatus) -> _CiState:
    if status.total_count == 0:
        return "unknown"  # no statuses at all (GitHub still says "pending")
    match status.state:
        case "success" | "failure" | "pending" | "error":
            return status.state
        case _:
            return "unknown"


def _commits_of(comparison: Comparison, shown: int) -> list[CommitInfo]:
    """The newest ``shown`` commits of a comparison (GitHub lists them oldest first)."""
    commits = [
        _commit(
            c.sha,
            c.subject,
            c.commit.author.name
            if c.commit.author and c.commit.author.name
            else (c.author.login if c.author else "unknown"),
        )
        for c in comparison.commits[::-1][:shown]
    ]
    return commits


class EvidenceGatherer:
    """``gather(plan)``: the plan's Evidence, within ``timeout_s``, never an exception."""

    def __init__(
        self,
        *,
        config: Config,
        github: GithubClient | None,
        api_url: str | None = None,
        timeout_s: float = 5,
        shown: int = COMMITS_SHOWN,
        first_deploy_cap: int = FIRST_DEPLOY_CAP,
    ) -> None:
        self._config = config
        self._github = github
        self._api_url = api_url if api_url is not None else (github.base_url if github else None)
        self._timeout_s = timeout_s
        self._shown = shown
        self._cap = first_deploy_cap

    async def gather(self, plan: Plan) -> Evidence:
        known = Evidence(live_version=plan.previous_version, requester=plan.requester)
        try:
            async with asyncio.timeout(self._timeout_s):
                return await self._gather(plan, known)
        except TimeoutError:
            note = words.gathering_timed_out_note(timeout_s=self._timeout_s)
            return known.model_copy(update={"note": note})
        except Exception as exc:  # evidence must never fail a plan
            log.warning("evidence for %s: %s", plan.service, type(exc).__name__, exc_info=True)
            return known.model_copy(update={"note": words.no_range_note(why=_short(exc))})

    async def _gather(self, plan: Plan, known: Evidence) -> Evidence:
        if plan.service not in self._config.services:
            return known.model_copy(
                update={"note": words.unknown_service_note(service=plan.service)}
            )
        location = self._config.repo_location(plan.service)
        if gitrepo.is_local(location):
            return await self._from_git(plan, location, known)
        repo = github_repo(location, api_url=self._api_url)
        if repo is None:
            return known.model_copy(update={"note": words.not_on_github_note()})
        if self._github is None:
            return known.model_copy(update={"note": words.github_not_configured_note()})
        return await self._from_github(plan, repo, self._github, known)

    # -- a local repository ------------------------------------------------------------

    def _range(self, plan: Plan) -> tuple[str, str | None]:
        """(head, base): the commits in head and not in base are the plan's range."""
        planned = plan.sha if _SHA.match(plan.sha) else f"refs/tags/{plan.version}"
        if plan.previous_version is None:
            return planned, None
        # The live commit as deployed (its tag may have moved since); older plans: the tag.
        sha = plan.previous_sha
        live = sha if sha and _SHA.match(sha) else f"refs/tags/{plan.previous_version}"
        return (live, planned) if plan.kind == "rollback" else (planned, live)

    async def _from_git(self, plan: Plan, repo: str, known: Evidence) -> Evidence:
        head, base = self._range(plan)
        shown, cap, timeout_s = self._shown, self._cap, self._timeout_s
        try:
            found = await gitrepo.commit_range(
                repo, head=head, base=base, shown=shown, cap=cap, timeout_s=timeout_s
            )
            if found is None:  # libgit2 cannot open it: ask git
                found = await range_by_git(
                    repo, head=head, base=base, shown=shown, cap=cap, timeout_s=timeout_s
                )
        except ToolFailed as failed:
            return known.model_copy(update={"note": words.no_range_note(why=_short(failed))})
        commits = [_commit(c.sha, c.subject, c.author) for c in found.commits]
        total: int | None = found.total
        note = None
        if base is None and found.total > self._cap:
            total, note = None, words.first_deploy_capped_note(cap=self._cap)
        return known.model_copy(update={"commits_total": total, "commits": commits, "note": note})

    # -- a repository on GitHub --------------------------------------------------------

    async def _bounded(self, call: Awaitable[_T], what: str) -> _T | str:
        """The call's result, or a short reason it failed (a string)."""
        try:
            async with asyncio.timeout(self._timeout_s * 0.9):
                return await call
        except TimeoutError:
            return words.github_silent_note(what=what)
        except GithubError as exc:
            return words.github_failed_note(what=what, why=_short(exc))

    async def _from_github(
        self, plan: Plan, repo: GithubRepo, github: GithubClient, known: Evidence
    ) -> Evidence:
        notes: list[str] = []
        update: dict[str, object] = {}
        live = plan.previous_sha or plan.previous_version
        status_call = self._bounded(
            github.commit_status(repo.owner, repo.name, plan.sha), "CI status"
        )
        if live is None:
            notes.append(words.first_deploy_note())
            status = await status_call
        else:
            base, head = (plan.sha, live) if plan.kind == "rollback" else (live, plan.sha)
            compare_call = self._bounded(
                github.compare(repo.owner, repo.name, base, head), "compare"
            )
            comparison, status = await asyncio.gather(compare_call, status_call)
            if isinstance(comparison, str):
                notes.append(comparison)
            else:
                update["commits_total"] = comparison.total_commits
                if comparison.html_url.startswith(("https://", "http://")):
                    update["compare_url"] = comparison.html_url
                if len(comparison.commits) < comparison.total_commits:
                    notes.append(words.oldest_listed_note(listed=len(comparison.commits)))
                else:
                    update["commits"] = _commits_of(comparison, self._shown)
        if isinstance(status, str):
            notes.append(status)
        else:
            update["ci_state"] = state = _ci_state(status)
            failing = [
                s.target_url
                for s in status.statuses
                if s.state != "success" and (s.target_url or "").startswith(("https://", "http://"))
            ]
            update["ci_url"] = failing[0] if failing and state != "success" else None
            update["ci_url"] = update["ci_url"] or repo.commit_url(plan.sha)
        if notes:
            update["note"] = "; ".join(notes)
        return known.model_copy(update=update)
