"""How Redis keeps what it acknowledged, judged (bot/app/findings/durability.py): a table of server
answers (as CONFIG GET and INFO replication give them) and DEPLOYBOT_REDIS_REPLICAS, and the
findings and summary line each must give. The same texts reach check-config and start-up
(tests/e2e/test_redis_durability.py drives real servers)."""

from dataclasses import replace

import pytest

from bot.app.findings.durability import RedisFacts, judge
from bot.app.findings.preflight import SERVICES

# Debian's redis.conf: RDB snapshots only.
DEBIAN = RedisFacts(
    appendonly="no",
    appendfsync="everysec",
    save="3600 1 300 100 60 10000",
    no_appendfsync_on_rewrite="no",
    maxmemory_bytes=0,
    maxmemory_policy="noeviction",
    role="master",
    connected_replicas=0,
)
AOF = replace(DEBIAN, appendonly="yes")  # appendfsync everysec: the recommended setting
REFUSED_CONFIG = RedisFacts(role="master", connected_replicas=0)
REFUSED_ALL = RedisFacts()


@pytest.mark.parametrize(
    ("facts", "replicas", "expected"),
    [
        # persistence
        (AOF, 0, []),
        (replace(AOF, appendfsync="always"), 0, []),
        (replace(AOF, appendfsync="ALWAYS "), 0, []),  # as spelled by a config file
        (DEBIAN, 0, [("warning", "Redis keeps RDB snapshots only")]),
        (replace(DEBIAN, save=""), 0, [("warning", "Redis keeps nothing on disk")]),
        (replace(DEBIAN, save="  "), 0, [("warning", "Redis keeps nothing on disk")]),
        (replace(AOF, save=""), 0, []),  # AOF alone is enough
        (replace(AOF, appendfsync="no"), 0, [("warning", "appendfsync no")]),
        (
            replace(AOF, no_appendfsync_on_rewrite="yes"),
            0,
            [("warning", "no-appendfsync-on-rewrite yes")],
        ),
        (replace(DEBIAN, no_appendfsync_on_rewrite="yes"), 0, [("warning", "RDB snapshots")]),
        (REFUSED_CONFIG, 0, [("warning", "could not tell how Redis keeps")]),
        (replace(AOF, save=None), 0, [("warning", "could not tell how Redis keeps")]),
        (replace(AOF, appendfsync=None), 0, [("warning", "could not tell how Redis keeps")]),
        # eviction
        (
            replace(AOF, maxmemory_bytes=1 << 20, maxmemory_policy="allkeys-lru"),
            0,
            [("warning", "maxmemory-policy allkeys-lru")],
        ),
        (
            replace(AOF, maxmemory_bytes=1 << 20, maxmemory_policy="volatile-ttl"),
            0,
            [("warning", "maxmemory-policy volatile-ttl")],
        ),
        (replace(AOF, maxmemory_bytes=0, maxmemory_policy="allkeys-lru"), 0, []),  # no limit
        (replace(AOF, maxmemory_bytes=1 << 20, maxmemory_policy="noeviction"), 0, []),
        # replication
        (replace(AOF, connected_replicas=1), 0, [("warning", "DEPLOYBOT_REDIS_REPLICAS is not")]),
        (replace(AOF, connected_replicas=2), 0, [("warning", "Redis has 2 connected replicas")]),
        (replace(AOF, connected_replicas=1), 1, []),
        (replace(AOF, connected_replicas=2), 1, []),
        (replace(AOF, connected_replicas=0), 1, [("problem", "DEPLOYBOT_REDIS_REPLICAS=1 but")]),
        (replace(AOF, connected_replicas=1), 2, [("problem", "DEPLOYBOT_REDIS_REPLICAS=2 but")]),
        (replace(AOF, role="slave"), 0, [("problem", "REDIS_URL points at a Redis replica")]),
        (
            replace(AOF, role=None, connected_replicas=None),
            0,
            [("warning", "could not tell whether Redis has replicas")],
        ),
        (
            replace(AOF, role=None, connected_replicas=None),
            1,
            [("warning", "could not tell whether Redis has replicas")],
        ),
        # several at once, in a stable order: persistence, eviction, replication
        (
            replace(
                DEBIAN, maxmemory_bytes=5, maxmemory_policy="allkeys-lfu", connected_replicas=1
            ),
            0,
            [
                ("warning", "Redis keeps RDB"),
                ("warning", "Redis has maxmemory"),
                ("warning", "Redis has 1 connected replica but"),
            ],
        ),
        (
            REFUSED_ALL,
            0,
            [("warning", "could not tell how"), ("warning", "could not tell whether Redis has")],
        ),
    ],
)
def test_every_setting_that_can_lose_an_acknowledged_write_is_found(
    facts: RedisFacts, replicas: int, expected: list[tuple[str, str]]
) -> None:
    found = judge(facts, replicas_wanted=replicas).findings
    assert len(found) == len(expected), [f.text for f in found]
    for finding, (level, says) in zip(found, expected, strict=True):
        assert finding.level == level
        assert says in finding.text, finding.text
        # Every finding is said when any service starts (and by check-config).
        assert finding.warns == SERVICES or finding.refuses == SERVICES


@pytest.mark.parametrize(
    ("facts", "advice"),
    [
        (DEBIAN, ["appendonly yes", "appendfsync everysec", "always", "plan that already ran"]),
        (replace(DEBIAN, save=""), ["appendonly yes", "appendfsync everysec", "always"]),
        (replace(AOF, appendfsync="no"), ["appendfsync everysec or always", "30 s"]),
        (REFUSED_CONFIG, ["appendonly yes", "everysec or always", "status command"]),
        (
            replace(AOF, connected_replicas=1),
            ["DEPLOYBOT_REDIS_REPLICAS=1", "min-replicas-to-write"],
        ),
        (replace(AOF, maxmemory_bytes=9, maxmemory_policy="allkeys-lru"), ["noeviction"]),
    ],
)
def test_each_warning_says_what_is_lost_and_the_fix(facts: RedisFacts, advice: list[str]) -> None:
    (finding,) = judge(facts, replicas_wanted=0).findings
    for words in advice:
        assert words in finding.text


def test_what_matters_refuses_or_warns_but_never_blocks_on_doubt() -> None:
    """Pointed at a replica: no service starts (writes fail or vanish). More replicas wanted
    than connected: a problem check-config exits 1 on, but services start (replicas come
    back). Doubt (a refused CONFIG/INFO) only warns."""
    (replica,) = judge(replace(AOF, role="slave"), replicas_wanted=0).findings
    assert replica.refuses == SERVICES
    (short,) = judge(replace(AOF, connected_replicas=0), replicas_wanted=1).findings
    assert (short.level, short.refuses, short.warns) == ("problem", frozenset(), SERVICES)
    for finding in judge(REFUSED_ALL, replicas_wanted=1).findings:
        assert (finding.level, finding.refuses) == ("warning", frozenset())


@pytest.mark.parametrize(
    ("facts", "replicas", "summary"),
    [
        (
            AOF,
            0,
            "redis: appendonly yes, appendfsync everysec: a Redis crash loses nothing it "
            "acknowledged, a power cut about the last second of writes; primary with 0 connected "
            "replicas",
        ),
        (
            replace(AOF, appendfsync="always", connected_replicas=1),
            1,
            "redis: appendonly yes, appendfsync always: loses nothing it acknowledged; primary "
            "with 1 connected replica, deploys wait for 1 (DEPLOYBOT_REDIS_REPLICAS)",
        ),
        (
            DEBIAN,
            0,
            'redis: appendonly no, save "3600 1 300 100 60 10000"; primary with 0 '
            "connected replicas",
        ),
        (
            REFUSED_ALL,
            0,
            "redis: persistence unknown (CONFIG GET refused); replication unknown (INFO refused)",
        ),
        (
            replace(AOF, role="slave"),
            0,
            "redis: appendonly yes, appendfsync everysec: a Redis "
            "crash loses nothing it acknowledged, a power cut about the last second of writes; a "
            "replica (role:slave)",
        ),
    ],
)
def test_the_summary_line_says_what_each_setting_loses(
    facts: RedisFacts, replicas: int, summary: str
) -> None:
    assert judge(facts, replicas_wanted=replicas).summary == summary
