"""Fixtures: a real Redis (each test under its own key prefix, removed afterwards)."""

import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from bot.shell.lock.dataloss import Mark
from bot.shell.store.keys import Keys

TEST_REDIS_URL = os.environ.get("DEPLOYBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

# Run as root (CI), a bot runs deploy commands as nobody, who cannot enter pytest's private
# temporary folders where these tests keep their scripts and call logs. The tests of who
# commands run as (tests/e2e/test_authority.py,
# tests/integration/shell/process/test_run_as.py) set or unset this themselves; every other
# test runs its scripts as the test's own user, as before. Subprocess tests pass it on with
# the rest of the environment they keep.
AS_ROOT = "DEPLOYBOT_RUN_COMMANDS_AS_ROOT"
if os.geteuid() == 0:
    os.environ.setdefault(AS_ROOT, "true")


def mark_intact(prefix: str, *, url: str = TEST_REDIS_URL, age_s: float = 3600) -> None:
    """Say that ``prefix``'s data on ``url`` has been intact for ``age_s``: an installation
    that has been running a while. On a new (or emptied) Redis no deploy lock is granted for
    a lock lease after the first process starts (bot/shell/lock/dataloss.py); tests of that start
    from a Redis without the mark (tests/faults/test_data_loss.py)."""
    client = SyncRedis.from_url(url)
    deadline = time.monotonic() + 5  # a server just started may not answer yet
    try:
        while True:
            try:
                run_id = str(client.info("server")["run_id"])  # made by this server
                break
            except RedisConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        made_ms = int((time.time() - age_s) * 1000)
        mark = Mark(id="testseed", made_ms=made_ms, run_id=run_id)
        client.set(Keys(prefix).intact(), mark.stored())
    except RedisError as exc:  # a clear failure, never a silent skip
        pytest.fail(f"no Redis at {url} ({exc}); run ./scripts/test")
    finally:
        client.close()


@pytest.fixture
def key_prefix() -> Iterator[str]:
    """A prefix of the test's own, whose data has been intact for an hour (see
    ``mark_intact``); its mark is removed afterwards."""
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    mark_intact(prefix)
    yield prefix
    client = SyncRedis.from_url(TEST_REDIS_URL)
    with contextlib.suppress(RedisError):
        client.delete(Keys(prefix).intact())
    client.close()


@pytest.fixture
async def redis(key_prefix: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(TEST_REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:  # a clear failure, never a silent skip
        pytest.fail(f"no Redis at {TEST_REDIS_URL} ({exc}); run ./scripts/test")
    yield client
    async for key in client.scan_iter(match=f"{key_prefix}:*", count=1000):
        await client.unlink(key)
    await client.aclose()
