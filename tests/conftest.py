"""Fixtures: a real Redis (each test under its own key prefix, removed afterwards)."""

import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

TEST_REDIS_URL = os.environ.get("DEPLOYBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

# Run as root (CI), a bot runs deploy commands as nobody, who cannot enter pytest's private
# temporary folders where these tests keep their scripts and call logs. The tests of who
# commands run as (tests/e2e/test_authority.py, tests/integration/test_run_as.py) set or
# unset this themselves; every other test runs its scripts as the test's own user, as
# before. Subprocess tests pass it on with the rest of the environment they keep.
AS_ROOT = "DEPLOYBOT_RUN_COMMANDS_AS_ROOT"
if os.geteuid() == 0:
    os.environ.setdefault(AS_ROOT, "true")


@pytest.fixture
def key_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


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
