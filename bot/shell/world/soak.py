"""What each environment knows of each commit deployed there, for promotion and soak.

One hash per service and environment; a commit's facts are separate fields (``<sha>``: its
``SoakMark``; ``<sha>:verified``, ``<sha>:left``: ISO times; ``<sha>:void``: why it no
longer counts), so whatever ends (a deploy, a verification, a rollback) writes its own
field and nothing is read-modified-written: two workers finishing at once cannot undo each
other. A fresh mark (the commit deployed there again) deletes the other fields first.
What the fields mean, and the writes each ending makes, is ``bot.core.release.promotion``.
Reads are queued on the caller's pipeline (planning's and the lock grant's), one ``HMGET``
per required environment, so an environment without ``requires`` pays nothing.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import cast, get_args

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from bot.core.release.promotion import SoakFacts, SoakMark, SoakWrite, Void
from bot.shell.store.keys import Keys, text

__all__ = ["SoakMarks", "facts_of"]

_VOIDS = frozenset(get_args(Void))


class SoakMarks:
    def __init__(self, *, redis: "Redis", keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    async def write(self, *, service: str, environment: str, writes: Sequence[SoakWrite]) -> None:
        if not writes:
            return
        pipe = self._redis.pipeline(transaction=True)
        self.write_in(pipe, service=service, environment=environment, writes=writes)
        await pipe.execute()

    def write_in(
        self, pipe: "Pipeline", *, service: str, environment: str, writes: Sequence[SoakWrite]
    ) -> None:
        """Queue ``writes`` on a pipeline the caller executes."""
        key = self._keys.soak(service, environment)
        for w in writes:
            if w.mark is not None:
                pipe.hdel(key, f"{w.sha}:verified", f"{w.sha}:left", f"{w.sha}:void")
                pipe.hset(key, w.sha, w.mark.model_dump_json())
            if w.verified_at is not None:
                pipe.hset(key, f"{w.sha}:verified", w.verified_at.isoformat())
            if w.left_at is not None:
                pipe.hset(key, f"{w.sha}:left", w.left_at.isoformat())
            if w.voided is not None:
                pipe.hset(key, f"{w.sha}:void", w.voided)

    def of_in(self, pipe: "Pipeline", *, service: str, environment: str, sha: str) -> None:
        """Queue the read of one commit's facts (``facts_of`` reads the reply)."""
        key = self._keys.soak(service, environment)
        pipe.hmget(key, [sha, f"{sha}:verified", f"{sha}:left", f"{sha}:void"])

    async def of(self, *, service: str, environment: str, sha: str) -> SoakFacts:
        pipe = self._redis.pipeline(transaction=False)
        self.of_in(pipe, service=service, environment=environment, sha=sha)
        (reply,) = await pipe.execute()
        return facts_of(reply)


def _time(raw: bytes | str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(text(raw))
    except ValueError:
        return None


def facts_of(reply: Sequence[bytes | str | None]) -> SoakFacts:
    """One commit's facts from ``of_in``'s ``HMGET`` reply; an unreadable field reads as
    absent, except a mark, which then reads as voided (never as soaked)."""
    raw_mark, verified, left, void = reply
    mark: SoakMark | None = None
    voided = text(void) if void is not None else None
    if raw_mark is not None:
        try:
            mark = SoakMark.model_validate_json(raw_mark)
        except ValueError:
            return SoakFacts(voided="failed")
    return SoakFacts(
        mark=mark,
        verified_at=_time(verified),
        left_at=_time(left),
        voided=cast(Void, voided) if voided in _VOIDS else None,
    )
