"""What check-config and start-up say about real Redis servers that can lose what they
acknowledged (issue 16.4): a primary with a connected replica, the bot pointed at the
replica, appendfsync no, RDB snapshots alone, an evicting maxmemory policy, and a user
that may not ask INFO or CONFIG. Servers are started by the test on their own ports (AOF
everysec unless changed) and stopped by PID; the settings are changed with CONFIG SET, as an
operator would."""

import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis import Redis

from tests.harness import RedisServer, bot_env, deploybot
from tests.support import write_setup


@dataclass
class Pair:
    primary: str
    replica: str
    admin: Redis


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    """A primary and a replica of it (AOF everysec), the replica's first sync done."""
    primary = RedisServer(
        tmp_path / "primary", persistence="everysec", args=["--repl-diskless-sync-delay", "0"]
    )
    with primary.running():
        replica = RedisServer(tmp_path / "replica", persistence="everysec", replica_of=primary.port)
        with replica.running():
            replica.wait_synced()
            admin = primary.client()
            try:
                yield Pair(primary.url, replica.url, admin)
            finally:
                admin.close()


def check(tmp_path: Path, url: str, **settings: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "deploybot.toml"
    if not config.exists():
        write_setup(tmp_path)
    env = bot_env({"DEPLOYBOT_CONFIG": str(config), "REDIS_URL": url, **settings})
    return deploybot("check-config", env=env, cwd=tmp_path)


def lines(result: subprocess.CompletedProcess[str], kind: str) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith(f"{kind}: ")]


def test_a_connected_replica_asks_for_deploybot_redis_replicas(tmp_path: Path, pair: Pair) -> None:
    unset = check(tmp_path, pair.primary)
    assert unset.returncode == 0, unset.stdout
    assert (
        "ok: redis: appendonly yes, appendfsync everysec: a Redis crash loses nothing it "
        "acknowledged, a power cut about the last second of writes; primary with 1 connected "
        "replica" in unset.stdout
    )
    (warned,) = [w for w in lines(unset, "warning") if "replica" in w]
    assert "Redis has 1 connected replica but DEPLOYBOT_REDIS_REPLICAS is not set" in warned
    assert "min-replicas-to-write 1" in warned

    one = check(tmp_path, pair.primary, DEPLOYBOT_REDIS_REPLICAS="1")
    assert one.returncode == 0, one.stdout
    assert not [w for w in lines(one, "warning") if "replica" in w]
    assert "deploys wait for 1 (DEPLOYBOT_REDIS_REPLICAS)" in one.stdout

    two = check(tmp_path, pair.primary, DEPLOYBOT_REDIS_REPLICAS="2")
    assert two.returncode == 1, two.stdout
    assert (
        "problem: DEPLOYBOT_REDIS_REPLICAS=2 but Redis has 1 connected replica: every deploy "
        "would wait" in two.stdout
    )


def test_the_bot_pointed_at_a_replica_is_a_problem_and_no_service_starts(
    tmp_path: Path, pair: Pair
) -> None:
    checked = check(tmp_path, pair.replica)
    assert checked.returncode == 1, checked.stdout
    assert "problem: REDIS_URL points at a Redis replica (role:slave)" in checked.stdout
    config = tmp_path / "deploybot.toml"
    worker = deploybot(
        "worker",
        env=bot_env({"DEPLOYBOT_CONFIG": str(config), "REDIS_URL": pair.replica}),
        cwd=tmp_path,
    )
    assert worker.returncode == 2, (worker.stdout, worker.stderr)
    assert "deploybot worker: REDIS_URL points at a Redis replica" in worker.stderr
    assert "Traceback" not in worker.stderr


@pytest.mark.parametrize(
    ("changes", "warning"),
    [
        ({"appendfsync": "no"}, "Redis runs appendonly yes with appendfsync no"),
        ({"appendonly": "no", "save": "3600 1 300 100"}, "Redis keeps RDB snapshots only"),
        ({"no-appendfsync-on-rewrite": "yes"}, "Redis has no-appendfsync-on-rewrite yes"),
        (
            {"maxmemory": "100mb", "maxmemory-policy": "allkeys-lru"},
            "Redis has maxmemory 104857600 bytes with maxmemory-policy allkeys-lru",
        ),
    ],
)
def test_each_setting_that_can_lose_a_write_is_warned_about(
    tmp_path: Path, pair: Pair, changes: dict[str, str], warning: str
) -> None:
    for name, value in changes.items():
        pair.admin.config_set(name, value)
    checked = check(tmp_path, pair.primary, DEPLOYBOT_REDIS_REPLICAS="1")
    assert checked.returncode == 0, checked.stdout
    assert [w for w in lines(checked, "warning") if warning in w], checked.stdout


def test_a_user_that_may_not_ask_is_told_it_could_not_tell(tmp_path: Path, pair: Pair) -> None:
    user, password = f"u{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    pair.admin.acl_setuser(
        user, enabled=True, passwords=[f"+{password}"], keys=["*"], channels=["*"],
        commands=["+@all", "-config", "-info"],
    )  # fmt: skip
    url = pair.primary.replace("redis://", f"redis://{user}:{password}@", 1)
    checked = check(tmp_path, url)
    assert checked.returncode == 0, checked.stdout
    warned = lines(checked, "warning")
    assert [w for w in warned if w.startswith("warning: could not tell how Redis keeps")]
    assert [w for w in warned if w.startswith("warning: could not tell whether Redis has")]
    assert (
        "ok: redis: persistence unknown (CONFIG GET refused); replication unknown (INFO "
        "refused)" in checked.stdout
    )
    assert password not in checked.stdout + checked.stderr
