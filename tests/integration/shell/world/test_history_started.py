"""The newest deploy started on a pair (bot/shell/world/history.py), on a real Redis: what
``started`` writes is what ``newest_started`` reads, and an entry stored by an older bot (with
the ``thread_id`` it no longer writes) still loads."""

import json
from datetime import UTC, datetime

from redis.asyncio import Redis

from bot.core.policy.supersession import StartedDeploy
from bot.core.thread.plan import Plan
from bot.shell.store.keys import Keys
from bot.shell.world.history import DeployHistory

AT = datetime(2026, 12, 7, 9, 30, 5, tzinfo=UTC)
PLAN = Plan(
    kind="rollback",
    service="backend",
    environment="staging",
    version="v1.4.0",
    sha="0" * 40,
    previous_version="v1.4.1",
    previous_sha="1" * 40,
    requester="carol",
)


async def test_what_started_writes_newest_started_reads(redis: Redis, key_prefix: str) -> None:
    history = DeployHistory(redis=redis, keys=Keys(key_prefix))
    assert await history.newest_started(service="backend", environment="staging") is None
    await history.started(PLAN, idempotency_key="k-1", at=AT)
    got = await history.newest_started(service="backend", environment="staging")
    assert got == StartedDeploy(
        idempotency_key="k-1",
        kind="rollback",
        version="v1.4.0",
        requester="carol",
        at=AT,
        sha="0" * 40,  # its commit: what a plan queued behind it is judged against
    )
    assert await history.newest_started(service="backend", environment="production") is None


async def test_an_entry_stored_with_its_thread_id_still_loads(
    redis: Redis, key_prefix: str
) -> None:
    keys = Keys(key_prefix)
    old = {
        "idempotency_key": "k-0",
        "thread_id": "t-alice",  # written until the field went (nothing read it)
        "kind": "deploy",
        "version": "v1.4.1",
        "requester": "alice",
        "at": AT.isoformat(),
    }
    await redis.set(keys.newest_started("backend", "staging"), json.dumps(old))
    got = await DeployHistory(redis=redis, keys=keys).newest_started(
        service="backend", environment="staging"
    )
    assert got is not None
    assert (got.idempotency_key, got.kind, got.version, got.requester, got.at) == (
        "k-0",
        "deploy",
        "v1.4.1",
        "alice",
        AT,
    )
