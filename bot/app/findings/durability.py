"""Does Redis keep what it acknowledged? Findings for check-config and start-up.

deploybot's promises (a plan runs at most once, an approval is never lost) rest on what Redis
acknowledged staying there: the thread, the plan's idempotency claim, the deploy history.
Every setting that can lose an acknowledged write is reported here with the fix:

- persistence: nothing on disk, RDB snapshots alone (a crash rolls Redis back to the last
  snapshot: a thread can come back awaiting approval for a plan that already ran),
  ``appendfsync no``, ``no-appendfsync-on-rewrite yes``; ``everysec`` and ``always`` are
  said in the summary line with what each loses;
- eviction: ``maxmemory`` with any policy but ``noeviction`` deletes keys under pressure;
- replication: replicas connected while ``DEPLOYBOT_REDIS_REPLICAS`` is 0 (a failover to a
  replica that missed the last writes loses the claim), more replicas wanted than connected
  (every deploy would wait and not run), and the bot pointed at a replica.

A server that refuses ``CONFIG GET`` or ``INFO`` (managed Redis often does) gets "could not
tell". ``judge`` is pure (table-tested); ``read_facts`` is the one place that asks the server.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from redis.asyncio import Redis

from bot.app.findings.preflight import SERVICES, Finding
from bot.shell.store.keys import text

__all__ = ["CONFIG_NAMES", "Durability", "RedisFacts", "judge", "read_facts", "read_persistence"]

#: The ``CONFIG GET`` parameters judged (one command each: Redis before 7 takes one pattern).
CONFIG_NAMES = (
    "appendonly",
    "appendfsync",
    "save",
    "no-appendfsync-on-rewrite",
    "maxmemory",
    "maxmemory-policy",
)

_LOST = "approvals, deploy claims and the deploy history"
_ADVICE = (
    "set appendonly yes with appendfsync everysec (a Redis crash then loses nothing it "
    "acknowledged, a power cut about the last second) or always (nothing, at one fsync per "
    "write)"
)


@dataclass(frozen=True)
class RedisFacts:
    """What the server said; None: it refused to say (or the parameter does not exist)."""

    appendonly: str | None = None
    appendfsync: str | None = None
    save: str | None = None
    no_appendfsync_on_rewrite: str | None = None
    maxmemory_bytes: int | None = None
    maxmemory_policy: str | None = None
    role: str | None = None  # INFO replication: master | slave
    connected_replicas: int | None = None


@dataclass(frozen=True)
class Durability:
    findings: list[Finding]
    summary: str  # one line: how Redis keeps data, and what that loses


def judge(facts: RedisFacts, *, replicas_wanted: int) -> Durability:
    """Every finding about how ``facts`` keep acknowledged writes, and the summary line."""
    found = [*_persistence(facts), *_eviction(facts), *_replication(facts, replicas_wanted)]
    return Durability(findings=found, summary=_summary(facts, replicas_wanted))


def _warning(message: str) -> Finding:
    return Finding("warning", message, warns=SERVICES)


def _persistence(facts: RedisFacts) -> list[Finding]:
    aof, fsync, save = (_word(facts.appendonly), _word(facts.appendfsync), facts.save)
    if aof is None or save is None or (aof == "yes" and fsync is None):
        return [
            _warning(
                "could not tell how Redis keeps what it acknowledged (it refused CONFIG GET, "
                "as managed Redis often does): ask your provider for appendonly yes with "
                "appendfsync everysec or always; with RDB snapshots alone or nothing on disk "
                f"a crash loses {_LOST}, and a plan approved again can run twice unless the "
                "service has a status command"
            )
        ]
    if aof != "yes" and not save.strip():
        return [
            _warning(
                'Redis keeps nothing on disk (appendonly no, save ""): any restart loses '
                "everything: threads, queued requests, approvals, locks, deploy claims and "
                f"the deploy history; {_ADVICE}"
            )
        ]
    if aof != "yes":
        return [
            _warning(
                f'Redis keeps RDB snapshots only (appendonly no, save "{save.strip()}"): a '
                "crash rolls it back to the last snapshot, often minutes old, losing "
                f"{_LOST}, so a thread can come back awaiting approval for a plan that "
                f"already ran; {_ADVICE}"
            )
        ]
    found = []
    if fsync == "no":
        found.append(
            _warning(
                "Redis runs appendonly yes with appendfsync no: the operating system decides "
                "when writes reach the disk (often 30 s later), so a power cut or kernel crash "
                f"loses that much: {_LOST}; set appendfsync everysec or always"
            )
        )
    elif _word(facts.no_appendfsync_on_rewrite) == "yes":
        found.append(
            _warning(
                "Redis has no-appendfsync-on-rewrite yes: while it rewrites its AOF it does "
                "not fsync, so a power cut during a rewrite loses up to about 30 s of writes: "
                f"{_LOST}; set no-appendfsync-on-rewrite no"
            )
        )
    return found


def _eviction(facts: RedisFacts) -> list[Finding]:
    policy = _word(facts.maxmemory_policy)
    if not facts.maxmemory_bytes or policy is None or policy == "noeviction":
        return []
    return [
        _warning(
            f"Redis has maxmemory {facts.maxmemory_bytes} bytes with maxmemory-policy "
            f"{policy}: under memory pressure it deletes keys it acknowledged (threads, deploy "
            "claims, locks, queued requests); set maxmemory-policy noeviction (writes then "
            "fail with an error instead)"
        )
    ]


def _replication(facts: RedisFacts, wanted: int) -> list[Finding]:
    role, connected = _word(facts.role), facts.connected_replicas
    if role == "slave":
        return [
            Finding(
                "problem",
                "REDIS_URL points at a Redis replica (role:slave): it refuses writes, or loses "
                "them at its next sync; point REDIS_URL at the primary",
                refuses=SERVICES,
            )
        ]
    if role is None or connected is None:
        then = (
            f"deploys wait for DEPLOYBOT_REDIS_REPLICAS={wanted} copies and do not run without them"
            if wanted
            else "if it can fail over to a replica, set DEPLOYBOT_REDIS_REPLICAS=1 and "
            "min-replicas-to-write 1 (docs/operations.md)"
        )
        return [
            _warning(
                "could not tell whether Redis has replicas (it refused INFO replication); " + then
            )
        ]
    if wanted > connected:
        return [
            Finding(
                "problem",
                f"DEPLOYBOT_REDIS_REPLICAS={wanted} but Redis has {connected} connected "
                f"replica{'s' if connected != 1 else ''}: every deploy would wait "
                "DEPLOYBOT_REDIS_WAIT_MS for copies that cannot come, then not run; connect "
                "the replicas or lower DEPLOYBOT_REDIS_REPLICAS",
                warns=SERVICES,
            )
        ]
    if connected and not wanted:
        return [
            _warning(
                f"Redis has {connected} connected replica{'s' if connected != 1 else ''} but "
                "DEPLOYBOT_REDIS_REPLICAS is not set: replication is asynchronous, so a "
                "failover to a replica that missed the last writes loses a deploy's claim and "
                "the plan can run twice; set DEPLOYBOT_REDIS_REPLICAS=1 (a deploy runs only "
                "once its start reached a replica) and min-replicas-to-write 1 in Redis (a "
                "primary cut off from its replicas refuses writes)"
            )
        ]
    return []


def _summary(facts: RedisFacts, wanted: int) -> str:
    aof, fsync = _word(facts.appendonly), _word(facts.appendfsync)
    if aof is None or facts.save is None:
        kept = "persistence unknown (CONFIG GET refused)"
    elif aof == "yes" and fsync == "always":
        kept = "appendonly yes, appendfsync always: loses nothing it acknowledged"
    elif aof == "yes" and fsync == "everysec":
        kept = (
            "appendonly yes, appendfsync everysec: a Redis crash loses nothing it "
            "acknowledged, a power cut about the last second of writes"
        )
    elif aof == "yes":
        kept = f"appendonly yes, appendfsync {fsync}"
    else:
        kept = f'appendonly no, save "{facts.save.strip()}"'
    role, connected = _word(facts.role), facts.connected_replicas
    if role is None or connected is None:
        copies = "replication unknown (INFO refused)"
    elif role != "master":
        copies = f"a replica (role:{role})"
    else:
        copies = f"primary with {connected} connected replica{'s' if connected != 1 else ''}"
    waits = f", deploys wait for {wanted} (DEPLOYBOT_REDIS_REPLICAS)" if wanted else ""
    return f"redis: {kept}; {copies}{waits}"


def _word(value: str | None) -> str | None:
    return None if value is None else value.strip().lower()


def _number(value: str | None) -> int | None:
    try:
        return None if value is None else int(value)
    except ValueError:
        return None


def _answer(reply: object, name: str) -> str | None:
    if isinstance(reply, Exception) or not isinstance(reply, Mapping):
        return None
    values = {text(k): text(v) for k, v in reply.items()}
    return values.get(name)


async def read_facts(redis: "Redis") -> RedisFacts:
    """Ask the server in one round trip. A command it refuses (an error answer) leaves its
    facts unknown; an unreachable server raises (``RedisError``/``OSError``)."""
    pipe = redis.pipeline(transaction=False)
    for name in CONFIG_NAMES:
        pipe.config_get(name)
    pipe.info("replication")
    replies = await pipe.execute(raise_on_error=False)
    config = {n: _answer(reply, n) for n, reply in zip(CONFIG_NAMES, replies, strict=False)}
    info = replies[len(CONFIG_NAMES)]
    replication = {text(k): text(v) for k, v in info.items()} if isinstance(info, Mapping) else {}
    return RedisFacts(
        appendonly=config["appendonly"],
        appendfsync=config["appendfsync"],
        save=config["save"],
        no_appendfsync_on_rewrite=config["no-appendfsync-on-rewrite"],
        maxmemory_bytes=_number(config["maxmemory"]),
        maxmemory_policy=config["maxmemory-policy"],
        role=replication.get("role"),
        connected_replicas=_number(replication.get("connected_slaves")),
    )


async def read_persistence(redis: "Redis", *, replicas_wanted: int) -> Durability:
    """How the server keeps what it acknowledged, judged (``judge``)."""
    return judge(await read_facts(redis), replicas_wanted=replicas_wanted)
