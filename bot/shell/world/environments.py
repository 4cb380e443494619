"""Environment commands: ``lock``/``unlock`` an environment and ``where can I deploy``.

Who may lock, unlock and release is ``bot.core.policy.lock`` (and ``bot.core.policy.quarantine``
which entries a release lifts); this module reads and changes the locks and the quarantine in
Redis (``bot.shell.lock.lease``, ``bot.shell.world.quarantine``) and records what happened in
words from ``bot.core.wording``. ``frozen_for`` is also what a deploy asks before it is planned
or run: a person's lock stops everyone else's deploys to that environment.
"""

from bot.core.errors import ToolFailed
from bot.core.loop.steps import LockEnvironment, Release, UnlockEnvironment
from bot.core.policy.approval import Refused
from bot.core.policy.deploys import current_version
from bot.core.policy.lock import (
    check_frozen,
    check_release,
    check_release_interrupted,
    check_unlock,
)
from bot.core.policy.quarantine import release_keys
from bot.core.release.freezes import active_freeze
from bot.core.thread.events import Event, LockChanged, MessageSent, VersionReleased
from bot.core.wording.environments import (
    already_locked_text,
    held_released_text,
    lock_state_text,
    locked_now_text,
    not_locked_text,
    unlocked_text,
)
from bot.core.wording.messages import where_text
from bot.core.wording.quarantine import (
    entries_text,
    not_released_text,
    nothing_quarantined_text,
    released_text,
    tags_unreadable_text,
)
from bot.shell.lock.holder import LockHolder
from bot.shell.world.context import Context
from bot.shell.world.history import records
from bot.shell.world.lookups import DEPLOYS_SHOWN, Lookups, TurnMemo
from bot.shell.world.quarantine import entries

__all__ = ["EnvironmentDesk", "frozen_refusal"]


def frozen_refusal(*, environment: str, holder: LockHolder | None, requester: str) -> str | None:
    """``frozen_for`` given the person's lock on ``environment`` as read (None: none)."""
    verdict = check_frozen(
        environment=environment,
        locked_by=holder.who if holder else None,
        why=holder.why if holder else "",
        since=holder.since if holder else None,
        requester=requester,
    )
    return verdict.reason if isinstance(verdict, Refused) else None


class EnvironmentDesk:
    def __init__(self, *, context: Context, lookups: Lookups) -> None:
        self._config = context.config
        self._env_lock = context.env_lock
        self._quarantine = context.quarantine
        self._store = context.store
        self._history = context.history
        self._clock = context.clock.now
        self._new_id = context.clock.new_id
        self._lookups = lookups

    async def frozen_for(self, environment: str, *, requester: str) -> str | None:
        """Why a deploy by ``requester`` may not go to a locked environment (None: it may)."""
        holder = await self._env_lock.frozen(environment=environment)
        return frozen_refusal(environment=environment, holder=holder, requester=requester)

    async def lock(self, step: LockEnvironment) -> list[Event]:
        """``lock <env> <reason>``: a person's lock, unless one is on it already."""
        env, now = step.environment, self._clock()
        holder = LockHolder(thread_id="", who=step.person, why=step.reason or "", since=now)
        ok, current = await self._env_lock.freeze(environment=env, holder=holder)
        if not ok:
            return [
                MessageSent(
                    id=self._new_id(), at=now, text=already_locked_text(env, holder=current)
                )
            ]
        changed = LockChanged(
            id=self._new_id(),
            at=now,
            service="*",
            environment=env,
            action="acquired",
            by=step.person,
            reason=step.reason,
        )
        text = locked_now_text(env, person=step.person, reason=step.reason)
        return [changed, MessageSent(id=self._new_id(), at=now, text=text)]

    async def unlock(self, step: UnlockEnvironment) -> list[Event]:
        """``unlock <env>``: lifts a person's lock (``check_unlock``), and releases the
        services held there after an interrupted deploy (``check_release_interrupted``)."""
        env, now = step.environment, self._clock()
        current = await self._env_lock.frozen(environment=env)
        events: list[Event] = []
        released = await self._release_interrupted(step)
        if isinstance(released, Refused):
            if current is None:
                return [MessageSent(id=self._new_id(), at=now, text=released.reason, to=step.actor)]
        elif released:
            text = held_released_text(env, services=released, person=step.person)
            events.append(MessageSent(id=self._new_id(), at=now, text=text, purpose="result"))
        if current is None:
            return events or [MessageSent(id=self._new_id(), at=now, text=not_locked_text(env))]
        verdict = check_unlock(
            self._config, environment=env, person=step.person, locked_by=current.who
        )
        if isinstance(verdict, Refused):
            return [
                *events,
                MessageSent(id=self._new_id(), at=now, text=verdict.reason, to=step.actor),
            ]
        await self._env_lock.unfreeze(environment=env)
        changed = LockChanged(
            id=self._new_id(),
            at=now,
            service="*",
            environment=env,
            action="released",
            by=step.person,
        )
        text = unlocked_text(env, was_locked_by=current.who)
        return [
            *events,
            changed,
            MessageSent(id=self._new_id(), at=now, text=text, purpose="result"),
        ]

    async def _release_interrupted(self, step: UnlockEnvironment) -> list[str] | Refused:
        """``unlock <env>`` also releases services held there after an interrupted deploy.
        Returns the services released, or why this person may not (when one is held)."""
        env = step.environment
        services = [n for n, svc in self._config.services.items() if env in svc.environments]
        holders = await self._env_lock.holders(services=services, environment=env)
        held = [
            s for s, h in zip(services, holders, strict=True) if h is not None and h.interrupted
        ]
        if not held:
            return []
        verdict = check_release_interrupted(self._config, environment=env, person=step.person)
        if isinstance(verdict, Refused):
            return verdict
        released = []
        for service in held:
            if await self._env_lock.release_interrupted(service=service, environment=env):
                released.append(service)
        return released

    async def describe(self, service: str, memo: TurnMemo) -> Event:
        environments = self._config.services[service].environments
        # The recent deploys the turn has not read yet and the quarantines, in one round trip.
        unread = [(service, e) for e in environments if (service, e) not in memo.history]
        pipe = self._store.pipeline()
        for _, env in unread:
            self._history.recent_in(pipe, service=service, environment=env, limit=DEPLOYS_SHOWN)
        for env in environments:
            self._quarantine.of_in(pipe, service=service, environment=env)
        replies = await pipe.execute()
        for pair, raw in zip(unread, replies[: len(unread)], strict=True):
            memo.history[pair] = records(raw)
        quarantined = [entries(raw) for raw in replies[len(unread) :]]
        rows: list[tuple[str, str | None, bool, str | None]] = []
        states = await self._env_lock.states(service=service, environments=environments)
        now = self._clock()
        for env, (frozen, busy), banned in zip(environments, states, quarantined, strict=True):
            freeze = active_freeze(self._config.freezes, environment=env, at=now)
            lock = lock_state_text(env, frozen=frozen, busy=busy, freeze=freeze)
            if banned:
                lock = f"{lock}; " if lock else ""
                lock += entries_text(banned.values())
            live = current_version(memo.history[(service, env)])
            rows.append((env, live, self._config.environments[env].approval, lock))
        return MessageSent(
            id=self._new_id(),
            at=self._clock(),
            text=where_text(service, rows=rows),
            purpose="result",
        )

    async def release(self, step: Release) -> list[Event]:
        """``release backend v1.4.2 in production <reason>``: someone the config names for it
        lifts a quarantine. The name is resolved to its commit (read fresh from the
        repository), and the commit is released, whichever tag it was quarantined as."""
        now = self._clock()
        verdict = check_release(
            self._config, environment=step.environment, person=step.person, reason=step.reason
        )
        if isinstance(verdict, Refused):
            return [MessageSent(id=self._new_id(), at=now, text=verdict.reason, to=step.actor)]
        entries = await self._quarantine.of(service=step.service, environment=step.environment)
        if not entries:
            return [
                MessageSent(
                    id=self._new_id(),
                    at=now,
                    text=nothing_quarantined_text(step.service, step.environment),
                )
            ]
        try:
            tags = await self._lookups.fresh_tags(step.service)
        except ToolFailed as exc:
            return [
                MessageSent(
                    id=self._new_id(), at=now, text=tags_unreadable_text(step.service, str(exc))
                )
            ]
        history = await self._lookups.history(step.service, step.environment)
        keys, why_not = release_keys(entries, asked=step.version, tags=tags, history=history)
        released = [
            entry
            for key in keys
            if (
                entry := await self._quarantine.remove(
                    service=step.service, environment=step.environment, key=key
                )
            )
            is not None
        ]
        if not released:
            return [
                MessageSent(
                    id=self._new_id(),
                    at=now,
                    text=not_released_text(step.service, step.version, why_not=why_not),
                )
            ]
        assert step.reason is not None  # check_release asks for one
        return [
            VersionReleased(
                id=self._new_id(),
                at=self._clock(),
                service=step.service,
                environment=step.environment,
                version=step.version,
                person=step.person,
                reason=step.reason,
            ),
            MessageSent(
                id=self._new_id(),
                at=now,
                text=released_text(
                    service=step.service,
                    version=step.version,
                    environment=step.environment,
                    person=step.person,
                    reason=step.reason,
                    released=released,
                ),
                purpose="result",
            ),
        ]
