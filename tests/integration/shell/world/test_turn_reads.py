"""``TurnReader``: what a turn reads to make a plan, on a real Redis, round trips counted.

The prefetch reads the cached tags, each pair's recent deploys and quarantine entries and
each environment's person lock in one round trip, and a plan after it asks nothing more; a
plan without a prefetch reads its pair in one round trip and the person's lock alone after
it (an unlock handled meanwhile counts); a service whose tags are not cached goes to the
repository, and the locks are read again after that slow read; a repository that fails is
kept in the memo as the ``ToolFailed``; ``forget`` makes the next step read a pair again.
"""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from pydantic import TypeAdapter
from redis.asyncio import Redis

from bot.core.config.config import parse_config
from bot.core.errors import ToolFailed
from bot.core.thread.plan import DeployRecord, Quarantined, Tag
from bot.shell.lock.holder import LockHolder
from bot.shell.world.context import Context
from bot.shell.world.lookups import Lookups
from bot.shell.world.turn_reads import TurnReader, TurnReads, forget
from tests.context import context_over
from tests.support import count_round_trips

CONFIG = """
[services.backend]
repo = "/nowhere/backend"
deploy = ["./d"]
environments = ["staging", "production"]
[environments.staging]
[environments.production]
"""
AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
TAGS = [Tag(name="v1.4.2", sha="a" * 40)]
RECORD = DeployRecord(
    thread_id="t0",
    kind="deploy",
    version="v1.4.1",
    sha="b" * 40,
    requester="carol",
    result="succeeded",
    at=AT.isoformat(),
)
PERSON = LockHolder(thread_id="", who="dave", why="load test", since=AT)


class Repository:
    """Stands in for ``Lookups.fresh_tags``: answers ``TAGS`` (or fails), and may run
    something while it is read."""

    def __init__(self, *, fails: bool = False) -> None:
        self.fails = fails
        self.reads = 0
        self.meanwhile: Any = None

    async def fresh_tags(self, service: str) -> list[Tag]:
        self.reads += 1
        if self.meanwhile is not None:
            await self.meanwhile()
        if self.fails:
            raise ToolFailed("git ls-remote: timed out")
        return list(TAGS)


@pytest.fixture
def sends(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Round trips made by any client of this process (the test makes none meanwhile)."""
    return count_round_trips(monkeypatch)


def reader(redis: Redis, prefix: str, repository: Repository) -> tuple[TurnReader, Context]:
    context = context_over(redis, prefix, parse_config(CONFIG, base_dir=Path("/nowhere")))
    return TurnReader(context=context, lookups=cast(Lookups, repository)), context


async def seed(redis: Redis, context: Context, *, cached: bool) -> None:
    keys = context.keys
    if cached:
        await redis.set(keys.tags_cache("backend"), TypeAdapter(list[Tag]).dump_json(TAGS))
    await redis.lpush(keys.history("backend", "production"), RECORD.model_dump_json())
    entry = Quarantined(
        version="v1.4.0", sha="c" * 40, by="alice", reason="rolled back", at=AT.isoformat()
    )
    await context.quarantine.add(service="backend", environment="production", entry=entry)
    await context.env_lock.freeze(environment="staging", holder=PERSON)


async def test_the_prefetch_reads_all_a_plan_needs_in_one_round_trip(
    redis: Redis, key_prefix: str, sends: list[int]
) -> None:
    repository = Repository()
    reads, context = reader(redis, key_prefix, repository)
    await seed(redis, context, cached=True)
    memo = TurnReads()
    pairs = [("backend", "staging"), ("backend", "production")]
    before = sends[0]
    await reads.fetch(memo, services=["backend"], pairs=pairs)
    assert sends[0] - before == 1
    assert memo.tags_of("backend") == TAGS
    assert memo.history[("backend", "production")] == [RECORD]
    assert memo.history[("backend", "staging")] == []
    assert list(memo.quarantined[("backend", "production")]) == ["c" * 40]
    assert memo.quarantined[("backend", "staging")] == {}
    assert memo.frozen == {"staging": PERSON, "production": None}
    assert repository.reads == 0
    before = sends[0]
    await reads.for_plan(memo, service="backend", environment="production")
    assert sends[0] == before  # the plan after the prefetch asks Redis nothing


async def test_a_plan_without_a_prefetch_reads_the_person_lock_last(
    redis: Redis, key_prefix: str, sends: list[int]
) -> None:
    reads, context = reader(redis, key_prefix, Repository())
    await seed(redis, context, cached=True)
    memo = TurnReads()
    before = sends[0]
    await reads.for_plan(memo, service="backend", environment="staging")
    assert sends[0] - before == 2  # the pair, then the lock alone
    assert memo.frozen == {"staging": PERSON}
    assert memo.history[("backend", "staging")] == []


async def test_tags_not_cached_come_from_the_repository_and_the_locks_are_read_after(
    redis: Redis, key_prefix: str
) -> None:
    repository = Repository()
    reads, context = reader(redis, key_prefix, repository)
    await seed(redis, context, cached=False)

    async def unlock() -> None:  # an unlock handled while the repository is read
        await context.env_lock.unfreeze(environment="staging")

    repository.meanwhile = unlock
    memo = TurnReads()
    await reads.fetch(memo, services=["backend"], pairs=[("backend", "staging")])
    assert repository.reads == 1
    assert memo.tags_of("backend") == TAGS
    assert memo.frozen == {"staging": None}  # read again after the repository


async def test_a_repository_that_fails_is_kept_for_the_plan_to_raise(
    redis: Redis, key_prefix: str
) -> None:
    reads, context = reader(redis, key_prefix, Repository(fails=True))
    await seed(redis, context, cached=False)
    memo = TurnReads()
    await reads.for_plan(memo, service="backend", environment="production")
    with pytest.raises(ToolFailed, match="timed out"):
        memo.tags_of("backend")
    assert memo.history[("backend", "production")] == [RECORD]


async def test_forget_makes_the_next_step_read_the_pair_again(
    redis: Redis, key_prefix: str, sends: list[int]
) -> None:
    reads, context = reader(redis, key_prefix, Repository())
    await seed(redis, context, cached=True)
    memo = TurnReads()
    await reads.fetch(memo, services=["backend"], pairs=[("backend", "production")])
    await context.env_lock.freeze(environment="production", holder=PERSON)
    forget(memo, service="backend", environment="production")
    assert ("backend", "production") not in memo.history
    assert "production" not in memo.frozen
    before = sends[0]
    await reads.fetch(memo, services=["backend"], pairs=[("backend", "production")])
    assert sends[0] - before == 1  # the tags stay remembered; the pair is read again
    assert memo.frozen["production"] == PERSON
