"""``--paused K``: K paused threads in Redis before measuring, quickly, shaped like a real one.

One real thread is launched (on the ``parked`` service, whose lock no measured thread shares)
and left awaiting approval; then every key under the run's prefix is read and each place that
thread occupies is copied K times under new thread ids (``pk0000000`` ...), pipelined in
batches of 1,000:

- keys of its own (named ``{<thread id>}``): the thread itself (loaded, given the new id and
  encoded again by the store's codec, stored with the same version), any other one copied
  with ``DUMP``/``RESTORE`` (none while a thread is paused: its lease is released);
- shared sorted sets, hashes and sets with a member (field) naming it: the threads index,
  the delivered marks, the timers (the approval's reminder and expiry, same due times), the
  pending approvals of its service and environment (a hash: one field per waiting thread);
  each copied with the new id in place of the old, with the same score or value.

Streams (inbound, outbox) hold nothing of a paused thread (its entries are acknowledged and
deleted) and are not copied; neither are lists and shared strings. Failures: the source
thread not paused (``BenchError``); a batch that Redis refuses raises from the pipeline.
"""

from collections.abc import Callable
from dataclasses import dataclass

from _common import BenchError
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from bot.shell.store.codec import encode_thread
from bot.shell.store.keys import Keys, text
from bot.shell.store.threads import ThreadStore

__all__ = ["Seeded", "seed_paused"]

BATCH = 1_000
Pairs = list[tuple[str, float]]
Fields = dict[str, str]


@dataclass(frozen=True)
class Seeded:
    count: int
    bytes_per_thread: float  # used_memory growth over the seeding / count
    copied: str  # which keys, for the note


async def _places(redis: "Redis", prefix: str, src: str) -> tuple[list[str], dict[str, str]]:
    """The thread's own keys, and the shared keys naming it with their types."""
    own: list[str] = []
    shared: dict[str, str] = {}
    async for raw in redis.scan_iter(match=f"{prefix}:*", count=1000):
        key = text(raw)
        if "{" + src + "}" in key:
            own.append(key)
            continue
        kind = text(await redis.type(key))
        if kind in ("zset", "hash", "set"):
            shared[key] = kind
    return own, shared


async def seed_paused(
    redis: "Redis", *, keys: Keys, store: ThreadStore, src: str, count: int
) -> Seeded:
    source = await store.load(src)
    if source is None or source.status != "awaiting_approval":
        raise BenchError(f"the thread to copy ({src}) is not paused")
    own, shared = await _places(redis, keys.prefix, src)
    thread_key = keys.thread(src)
    ops: list[Callable[[Pipeline, str], None]] = []  # each queues one copy for a new id
    names: list[str] = []
    for key in own:
        if key == thread_key:
            version = source.version

            def put_thread(pipe: Pipeline, new: str, version: int = version) -> None:
                blob = encode_thread(source.model_copy(update={"id": new}))
                pipe.set(keys.thread(new), str(version).encode() + b"|" + blob)

            ops.append(put_thread)
            names.append("thread")
        else:
            dumped = await redis.dump(key)
            if dumped is None:  # gone meanwhile
                continue
            ttl = max(0, int(await redis.pttl(key)))

            def restore(
                pipe: Pipeline, new: str, key: str = key, dumped: bytes = dumped, ttl: int = ttl
            ) -> None:
                pipe.restore(key.replace(src, new), ttl, dumped)

            ops.append(restore)
            names.append(key.rsplit(":", 1)[-1])
    for key, kind in shared.items():
        short = key.removeprefix(keys.prefix + ":")
        if kind == "zset":
            members = await redis.zrange(key, 0, -1, withscores=True)
            pairs = [(text(pair[0]), float(pair[1])) for pair in members]
            mine = [(m, s) for m, s in pairs if src in m]

            def zadd(pipe: Pipeline, new: str, key: str = key, mine: Pairs = mine) -> None:
                pipe.zadd(key, {m.replace(src, new): s for m, s in mine})

            if mine:
                ops.append(zadd)
                names.append(f"{short} ({len(mine)} member{'s' * (len(mine) > 1)})")
        elif kind == "hash":
            fields = {text(f): text(v) for f, v in (await redis.hgetall(key)).items()}
            have = {f: v for f, v in fields.items() if src in f}

            def hset(pipe: Pipeline, new: str, key: str = key, have: Fields = have) -> None:
                copy = {f.replace(src, new): v.replace(src, new) for f, v in have.items()}
                pipe.hset(key, mapping=copy)  # type: ignore[arg-type]

            if have:
                ops.append(hset)
                names.append(f"{short} (field)")
        else:
            got = [text(m) for m in await redis.smembers(key) if src in text(m)]

            def sadd(pipe: Pipeline, new: str, key: str = key, got: list[str] = got) -> None:
                pipe.sadd(key, *(m.replace(src, new) for m in got))

            if got:
                ops.append(sadd)
                names.append(f"{short} (member)")
    before = int((await redis.info("memory"))["used_memory"])
    for start in range(0, count, BATCH):
        pipe = redis.pipeline(transaction=False)
        for i in range(start, min(count, start + BATCH)):
            new = f"pk{i:07d}"
            for op in ops:
                op(pipe, new)
        await pipe.execute()
    after = int((await redis.info("memory"))["used_memory"])
    return Seeded(count=count, bytes_per_thread=(after - before) / count, copied=", ".join(names))
