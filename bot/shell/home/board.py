"""The App Home's board (``bot.core.ports.board``), read in at most two round trips.

The first is one pipeline: for every configured service and environment, its recent deploys
(the history), its deploy lock, its requests waiting for approval, its quarantine and its
queue; for every environment, a person's lock. Only when requests are waiting, a second
pipeline loads their threads, and keeps each thread's open request if it is still the one
waiting (an entry can outlive its request: decided, expired, replaced by a newer plan). The
freeze in force comes from the config and the clock (``bot.core.release.freezes``). Soak: for
a pair whose environment another of the service's environments ``requires``, what that
environment knows of its live commit (``bot.shell.world.soak``), read in one more pipeline
only where the config has ``requires``.

A stored value that cannot be read (written by another version, damaged) is left out and
logged: the rest of the board is still shown.
"""

import logging
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import Any, TypeVar

from bot.core.policy.deploys import live_record
from bot.core.ports.board import (
    ActiveFreeze,
    Board,
    EnvironmentBoard,
    Held,
    PairBoard,
    QueuedPlan,
    SoakProgress,
    Waiting,
)
from bot.core.release.freezes import active_freeze
from bot.core.release.promotion import soak_progress
from bot.core.thread.plan import DeployRecord, Quarantined
from bot.core.thread.thread import Thread
from bot.shell.lock.holder import LockHolder, holder_of
from bot.shell.store.keys import text
from bot.shell.store.threads import stored_thread
from bot.shell.world.context import Context
from bot.shell.world.history import records
from bot.shell.world.pending import waiting_of
from bot.shell.world.quarantine import entries
from bot.shell.world.queue import QueuedPlan as InLine
from bot.shell.world.soak import facts_of

__all__ = ["BoardReader"]

log = logging.getLogger("deploybot.board")

T = TypeVar("T")

#: Deploys read per pair: enough to find the live one behind a run of failed ones.
HISTORY_READ = 20
#: Threads with a waiting request loaded for one board; beyond, the rest are left out.
MAX_WAITING = 100
# Replies per pair in the first pipeline: history, lock, pending, quarantine, queue (2).
_PER_PAIR = 6


def _readable(what: str, parse: Callable[[Any], T], raw: Any, default: T) -> T:
    """``parse(raw)``, or ``default`` (logged) when the stored value cannot be read."""
    try:
        return parse(raw)
    except ValueError as exc:
        log.warning("board: %s cannot be read, left out: %s", what, str(exc)[:200])
        return default


def _held(holder: LockHolder | None) -> Held | None:
    if holder is None:
        return None
    return Held(
        who=holder.who,
        why=holder.why,
        since=holder.since,
        thread_id=holder.thread_id,
        interrupted=holder.interrupted,
    )


def _queue(where: str, *, order: list[Any], plans: dict[Any, Any]) -> list[QueuedPlan]:
    """A pair's queue as ``ZRANGE`` (the order) and ``HGETALL`` (the plans) return it."""
    by_id = {text(k): v for k, v in plans.items()}
    line = []
    for thread_id in (text(t) for t in order):
        raw = by_id.get(thread_id)
        entry = _readable(f"{where} queue", InLine.model_validate_json, raw, None) if raw else None
        if entry is not None:
            line.append(
                QueuedPlan(
                    thread_id=thread_id,
                    plan_hash=entry.plan_hash,
                    version=entry.version,
                    requester=entry.requester,
                )
            )
    return line


class BoardReader:
    """``BoardSource`` on the shell's stores."""

    def __init__(self, *, context: Context) -> None:
        self._config = context.config
        self._now = context.clock.now
        self._keys = context.keys
        self._store = context.store
        self._history = context.history
        self._env_lock = context.env_lock
        self._pending = context.pending
        self._quarantine = context.quarantine
        self._soak = context.soak

    def _environments(self) -> list[str]:
        """Every environment, in the config's order (then any only a service names)."""
        names = dict.fromkeys(self._config.environments)
        for service in self._config.services.values():
            names.update(dict.fromkeys(service.environments))
        return list(names)

    async def read(self) -> Board:
        at = self._now()
        pairs = [(s, e) for s, svc in self._config.services.items() for e in svc.environments]
        environments = self._environments()
        pipe = self._store.pipeline()
        for service, env in pairs:
            self._history.recent_in(pipe, service=service, environment=env, limit=HISTORY_READ)
            pipe.get(self._keys.env_lock(service, env))
            self._pending.waiting_in(pipe, service=service, environment=env)
            self._quarantine.of_in(pipe, service=service, environment=env)
            pipe.zrange(self._keys.queue(service, env), 0, -1)
            pipe.hgetall(self._keys.queue_plans(service, env))
        for env in environments:
            self._env_lock.frozen_in(pipe, environment=env)
        replies = await pipe.execute()
        per_pair = [replies[i : i + _PER_PAIR] for i in range(0, len(pairs) * _PER_PAIR, _PER_PAIR)]
        locks = replies[len(pairs) * _PER_PAIR :]
        waiting: list[Mapping[str, str]] = [
            _readable(f"{s}/{e} pending", waiting_of, raw[2], {})
            for (s, e), raw in zip(pairs, per_pair, strict=True)
        ]
        threads = await self._threads({t for w in waiting for t in w})
        soaks = await self._soaks(pairs, per_pair)
        return Board(
            at=at,
            environments=[
                EnvironmentBoard(
                    name=env,
                    locked=_held(_readable(f"{env} lock", holder_of, raw, None)),
                    freezes=self._freezes(env, at=at),
                )
                for env, raw in zip(environments, locks, strict=True)
            ],
            pairs=[
                self._pair(pair, per_pair[i], waiting=waiting[i], threads=threads).model_copy(
                    update={"soak": soaks.get(pair)}
                )
                for i, pair in enumerate(pairs)
            ],
        )

    def _pair(
        self,
        pair: tuple[str, str],
        raw: list[Any],  # this pair's replies, as Redis answered
        *,
        waiting: Mapping[str, str],
        threads: Mapping[str, Thread],
    ) -> PairBoard:
        service, env = pair
        where = f"{service}/{env}"
        history: list[DeployRecord] = _readable(f"{where} history", records, raw[0], [])
        live = live_record(history)
        newest = history[0] if history else None
        holder = _readable(f"{where} deploy lock", holder_of, raw[1], None)
        quarantined: Mapping[str, Quarantined] = _readable(
            f"{where} quarantine", entries, raw[3], {}
        )
        return PairBoard(
            service=service,
            environment=env,
            live=live,
            latest=newest if newest is not None and newest is not live else None,
            deploying=_held(holder),
            quarantined=sorted(quarantined.values(), key=lambda q: q.at, reverse=True),
            waiting=self._waiting(service, env, waiting, threads),
            queue=_queue(where, order=raw[4], plans=raw[5]),
        )

    async def _soaks(
        self, pairs: list[tuple[str, str]], per_pair: list[list[Any]]
    ) -> dict[tuple[str, str], SoakProgress]:
        """The soak of each live commit where a later environment waits for it."""
        wanted: dict[tuple[str, str], tuple[str, str, float]] = {}
        for (service, env), raw in zip(pairs, per_pair, strict=True):
            waits = [
                self._config.environments[later].soak_s
                for later in self._config.services[service].environments
                if env in self._config.environments[later].requires
            ]
            history: list[DeployRecord] = _readable(f"{service}/{env}", records, raw[0], [])
            if waits and (live := live_record(history)) is not None:
                wanted[(service, env)] = (live.sha, live.version, max(waits))
        if not wanted:
            return {}
        pipe = self._store.pipeline()
        for (service, env), (sha, _, _) in wanted.items():
            self._soak.of_in(pipe, service=service, environment=env, sha=sha)
        found = {}
        for pair, reply in zip(wanted, await pipe.execute(), strict=True):
            _, version, wait_s = wanted[pair]
            found[pair] = soak_progress(facts_of(reply), version=version, soak_s=wait_s)
        return found

    def _freezes(self, env: str, *, at: datetime) -> list[ActiveFreeze]:
        window = active_freeze(self._config.freezes, environment=env, at=at)
        if window is None:
            return []
        return [ActiveFreeze(name=window.name, reason=window.reason, until=window.ends_at)]

    @staticmethod
    def _waiting(
        service: str, env: str, waiting: Mapping[str, str], threads: Mapping[str, Thread]
    ) -> list[Waiting]:
        """The entries whose thread still waits for that very request, oldest first."""
        found = []
        for thread_id, plan_hash in waiting.items():
            thread = threads.get(thread_id)
            open_approval = thread.open_approval() if thread is not None else None
            if (
                open_approval is not None
                and open_approval.request.plan_hash == plan_hash
                and open_approval.plan.service == service
                and open_approval.plan.environment == env
            ):
                found.append(Waiting(thread_id=thread_id, approval=open_approval))
        return sorted(found, key=lambda w: w.approval.request.at)

    async def _threads(self, ids: Collection[str]) -> dict[str, Thread]:
        """The threads ``ids`` (at most ``MAX_WAITING``), in one round trip."""
        if not ids:
            return {}
        wanted = sorted(ids)
        if len(wanted) > MAX_WAITING:
            log.warning("board: %d threads wait for approval; %d shown", len(wanted), MAX_WAITING)
            wanted = wanted[:MAX_WAITING]
        pipe = self._store.pipeline()
        for thread_id in wanted:
            self._store.load_in(pipe, thread_id)
        loaded = {}
        for thread_id, raw in zip(wanted, await pipe.execute(), strict=True):
            thread = _readable(f"thread {thread_id}", stored_thread, raw, None)
            if thread is not None:
                loaded[thread_id] = thread
        return loaded
