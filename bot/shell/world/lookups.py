"""Read-only lookups the loop and the prompt need: tags (cached briefly), deploy history,
and how a planned commit stands to the live one (``lineage``: git ancestry in a local
repository, GitHub's compare for one on GitHub; never raises).

A local repository is read in-process (bot/shell/world/gitrepo.py), with no ``git``
process: ``tags``, ``fresh_tags`` and ``repo_tags`` read its refs as they are now
(``fresh_tags`` and ``repo_tags`` never from the cache), and a lineage between two full
shas is kept once known (it cannot change), so the re-check of a plan asks nothing twice. A
repository on a URL, or one libgit2 cannot open, is asked with ``git`` processes as before.

The tags cache (``Keys.tags_cache``: the JSON of a ``list[Tag]``, with a lifetime) is
encoded here only: ``cached_tags`` reads a reply of it, ``cache_tags_in`` queues its update
on a pipeline another read or write sends anyway (only when the tags changed and a cached
value is still there: ``SET XX KEEPTTL``, so it keeps the lifetime given here and is never
created there).
"""

import asyncio
import functools
from collections.abc import Mapping

from pydantic import TypeAdapter
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from bot.core.errors import ToolFailed
from bot.core.loop.planning import planned_commit
from bot.core.policy.deploys import live_record
from bot.core.reports import lineage as words
from bot.core.thread.intents import Deploy, Rollback
from bot.core.thread.plan import DeployRecord, Lineage, Quarantined, Tag
from bot.core.wording.redact import compact_tail, redact
from bot.shell.github.client import GithubClient
from bot.shell.github.errors import GithubError
from bot.shell.store.keys import Keys
from bot.shell.world.context import Context
from bot.shell.world.evidence import github_repo
from bot.shell.world.tags import lineage, list_tags

__all__ = ["DEPLOYS_SHOWN", "Lookups", "TurnMemo", "cache_tags_in", "cached_tags"]

_TAGS_SHOWN = 10
#: Recent deploys a turn reads per pair.
DEPLOYS_SHOWN = 5
_TagList = TypeAdapter(list[Tag])


def cached_tags(raw: bytes | str) -> list[Tag]:
    """The tags as a read of the tags cache returns them (not empty). The same bytes read
    again (a service's tags change seldom, and every turn about it reads them) are not
    validated again: tags are frozen, so the list is handed out as a copy of the one read."""
    return list(_parsed_tags(raw))


@functools.lru_cache(maxsize=256)
def _parsed_tags(raw: bytes | str) -> tuple[Tag, ...]:
    return tuple(_TagList.validate_json(raw))


def cache_tags_in(
    pipe: "Pipeline", *, keys: Keys, service: str, tags: list[Tag] | None, cached: bytes | None
) -> None:
    """Queue the tags cache's update, when ``tags`` (read from the repository) differ from
    what was ``cached`` and a cached value is still there to update."""
    if tags is None or cached is None:
        return
    fresh = _TagList.dump_json(tags)
    if fresh != cached:
        pipe.set(keys.tags_cache(service), fresh, xx=True, keepttl=True)


class Lookups:
    def __init__(
        self,
        *,
        context: Context,
        redis: "Redis",
        github: GithubClient | None = None,
        tags_cache_s: float = 10,
        lineage_timeout_s: float = 5,
    ) -> None:
        """``redis``: the tags cache's own client; ``github``: how a planned commit stands
        to the live one, for repositories on GitHub."""
        self._redis = redis
        self._keys = context.keys
        self._config = context.config
        self._history = context.history
        self._tags_cache_s = tags_cache_s
        self._github = github
        self._lineage_timeout_s = lineage_timeout_s

    async def tags(self, service: str) -> list[Tag]:
        """Newest first. Cached for a few seconds: ``git ls-remote`` on a remote repository is
        slow (a local one is read in-process, in well under a millisecond)."""
        if self._tags_cache_s > 0:
            cached = await self._redis.get(self._keys.tags_cache(service))
            if cached:
                return cached_tags(cached)
        return await self._tags_from_git(service)

    async def _tags_from_git(self, service: str) -> list[Tag]:
        """The repository's tags now (bot/shell/world/tags.py), then remember them for a few
        seconds."""
        tags = await self.repo_tags(service)
        if self._tags_cache_s > 0:
            await self._redis.set(
                self._keys.tags_cache(service),
                _TagList.dump_json(tags),
                px=int(self._tags_cache_s * 1000),
            )
        return tags

    async def fresh_tags(self, service: str) -> list[Tag]:
        """From the repository now, not the cache, then cached."""
        return await self._tags_from_git(service)

    async def repo_tags(self, service: str) -> list[Tag]:
        """From the repository now, without writing the cache: for the re-check just
        before a deploy (bot/shell/deploy/under_lock.py updates the cache when they
        changed, with ``cache_tags_in``). Raises ``ToolFailed``."""
        return await list_tags(self._config.repo_location(service), limit=_TAGS_SHOWN * 2)

    async def lineage_for(
        self,
        intent: Deploy | Rollback,
        *,
        tags: list[Tag],
        history: list[DeployRecord],
        quarantined: Mapping[str, Quarantined],
    ) -> Lineage | None:
        """The lineage ``build_plan`` needs for ``intent``: of the commit it would plan,
        against the live one (None: nothing is live, or it is the live commit). Raises what
        planning raises (``PlanRefused``, ``ToolFailed``) when there is no such commit."""
        planned = planned_commit(intent, tags=tags, history=history, quarantined=quarantined)
        live = live_record(history)
        if live is None or live.sha == planned:
            return None
        return await self.lineage(intent.service, planned=planned, live=live.sha)

    async def lineage(self, service: str, *, planned: str, live: str) -> Lineage:
        """How commit ``planned`` stands to commit ``live`` (``bot.core.thread.plan.Lineage``)."""
        location = self._config.repo_location(service)
        api_url = self._github.base_url if self._github else None
        repo = github_repo(location, api_url=api_url)
        if repo is None:  # a local path (git ancestry), or a host only git could ask
            return await lineage(
                location, planned=planned, live=live, timeout_s=self._lineage_timeout_s
            )
        if self._github is None:
            return Lineage(relation="unknown", why=words.github_not_configured_why())
        try:
            async with asyncio.timeout(self._lineage_timeout_s):
                comparison = await self._github.compare(repo.owner, repo.name, live, planned)
        except TimeoutError:
            return Lineage(relation="unknown", why=words.github_silent_why())
        except GithubError as exc:
            why = compact_tail(redact(str(exc), secrets=()), max_lines=1, max_chars=160)
            return Lineage(relation="unknown", why=words.compare_failed_why(why=why))
        match comparison.status:
            case "identical":
                return Lineage(relation="same")
            case "ahead":
                return Lineage(relation="ahead")
            case "behind":
                return Lineage(relation="behind", missing=comparison.behind_by)
            case "diverged":
                return Lineage(relation="diverged", missing=comparison.behind_by)
            case other:
                return Lineage(relation="unknown", why=words.compare_said_why(status=other))

    async def history(self, service: str, environment: str) -> list[DeployRecord]:
        return await self._history.recent(
            service=service, environment=environment, limit=DEPLOYS_SHOWN
        )


class TurnMemo:
    """What one turn of the loop (``bot.shell.loop.turn.Runner.advance``) has looked up, so
    it asks Redis and git only once, and the messages it already handed to the outbox."""

    def __init__(self) -> None:
        self.tags: dict[str, list[Tag] | ToolFailed] = {}
        self.history: dict[tuple[str, str], list[DeployRecord]] = {}
        self.published: set[str] = set()  # messages already handed to the outbox

    def tags_of(self, service: str) -> list[Tag]:
        found = self.tags[service]
        if isinstance(found, ToolFailed):
            raise found
        return found
