"""The process's long-running tasks, watched: none may stop without anyone noticing.

Every long-running loop (the worker, each outbox pump, the timers pump, the scheduler, the
IMAP listener, Slack Socket Mode) runs as a named task of one ``TaskRegistry``. A loop
reports through its ``TaskHandle``: ``recovering(reason)`` when it lost something it needs
(Redis, IMAP) and is retrying, ``recovered()`` when it works again. Each episode is logged
once at WARNING (not once per retry). A task whose coroutine raises is ``dead`` (one ERROR
line with the reason); one that returns before the process is stopping is dead too.

``health`` (pure) turns the states into what ``/healthz`` answers; the processes without an
HTTP server (``worker``, ``mail``, ``clock``) wait on ``first_death`` and exit non-zero.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, assert_never

__all__ = [
    "DEAD_EXIT_GRACE_S",
    "RECOVERING_BOUND_S",
    "Dead",
    "Health",
    "Recovering",
    "Running",
    "TaskHandle",
    "TaskRegistry",
    "TaskState",
    "health",
    "until_stopped_or_dead",
]

log = logging.getLogger("deploybot.tasks")

#: A task retrying for longer than this makes /healthz answer 503.
RECOVERING_BOUND_S = 30.0
#: How long ``web``/``run`` keep answering /healthz 503 (saying why) after a task died,
#: before exiting non-zero.
DEAD_EXIT_GRACE_S = 5.0


@dataclass(frozen=True)
class Running:
    pass


@dataclass(frozen=True)
class Recovering:
    since_s: float  # monotonic
    reason: str


@dataclass(frozen=True)
class Dead:
    reason: str


TaskState = Running | Recovering | Dead


@dataclass(frozen=True)
class Health:
    ok: bool
    tasks: dict[str, str]


def health(states: Mapping[str, TaskState], *, now_s: float, bound_s: float) -> Health:
    """What each task's state says to an operator, and whether all is well (pure)."""
    shown: dict[str, str] = {}
    ok = True
    for name, state in sorted(states.items()):
        match state:
            case Running():
                shown[name] = "ok"
            case Recovering(since_s=since_s, reason=reason):
                for_s = max(0.0, now_s - since_s)
                shown[name] = f"recovering for {for_s:.1f} s: {reason}"
                ok = ok and for_s <= bound_s
            case Dead(reason=reason):
                shown[name] = f"dead: {reason}"
                ok = False
            case _:
                assert_never(state)
    return Health(ok=ok, tasks=shown)


class TaskHandle:
    """What a loop uses to say how it is doing. Works unregistered too (it only logs)."""

    def __init__(
        self,
        name: str,
        *,
        registry: "TaskRegistry | None" = None,
        now_s: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._registry = registry
        self._now_s = now_s
        self._since_s: float | None = None

    @property
    def recovering_since_s(self) -> float | None:
        return self._since_s

    def recovering(self, reason: str, *, lost: str = "") -> None:
        """Retrying after ``reason``; logged once per episode (with what was lost, if known)."""
        if self._since_s is not None:
            return
        self._since_s = self._now_s()
        lost_text = f"; lost: {lost}" if lost else ""
        log.warning("%s: %s; recovering%s", self.name, reason, lost_text)
        if self._registry is not None:
            self._registry._set(self.name, Recovering(since_s=self._since_s, reason=reason))

    def recovered(self) -> None:
        if self._since_s is None:
            return
        took_s = self._now_s() - self._since_s
        self._since_s = None
        log.warning("%s: recovered after %.1f s", self.name, took_s)
        if self._registry is not None:
            self._registry._set(self.name, Running())


class TaskRegistry:
    """The tasks of this process and their states; what /healthz reads."""

    def __init__(
        self,
        *,
        bound_s: float = RECOVERING_BOUND_S,
        now_s: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bound_s = bound_s
        self._now_s = now_s
        self._states: dict[str, TaskState] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._deaths: asyncio.Queue[tuple[str, str]] | None = None
        self.stopping = False
        self._stop: asyncio.Event | None = None
        #: What the process does about a death, said in the one ERROR line.
        self.on_death = "/healthz answers 503"

    def stops_with(self, stop: asyncio.Event) -> None:
        """Once ``stop`` is set the process is stopping: a task that ends because it saw
        ``stop`` is not a death, however soon it notices."""
        self._stop = stop

    def _is_stopping(self) -> bool:
        return self.stopping or (self._stop is not None and self._stop.is_set())

    def handle(self, name: str) -> TaskHandle:
        """Register ``name`` (running) and return its handle, for a loop run by the caller."""
        self._states[name] = Running()
        return TaskHandle(name, registry=self, now_s=self._now_s)

    def spawn(self, name: str, body: Callable[[TaskHandle], Awaitable[None]]) -> asyncio.Task[None]:
        """Run ``body(handle)`` as a watched task named ``name``."""
        handle = self.handle(name)
        task = asyncio.create_task(self._watch(name, body(handle)), name=name)
        self._tasks[name] = task
        return task

    async def _watch(self, name: str, body: Awaitable[None]) -> None:
        try:
            await body
        except asyncio.CancelledError:
            if not self._is_stopping():
                self.died(name, "cancelled")
            raise
        except Exception as exc:  # the class of failure a loop could not recover from
            self.died(name, f"{type(exc).__name__}: {exc}")
            return
        if not self._is_stopping():
            self.died(name, "returned while the process was not stopping")

    def died(self, name: str, reason: str) -> None:
        """Record a task's death (one ERROR line) and wake ``first_death``."""
        if isinstance(self._states.get(name), Dead):
            return
        self._states[name] = Dead(reason=reason)
        log.error("task %s died: %s; %s", name, reason, self.on_death)
        self._death_queue().put_nowait((name, reason))

    def _death_queue(self) -> "asyncio.Queue[tuple[str, str]]":
        if self._deaths is None:
            self._deaths = asyncio.Queue()
        return self._deaths

    def _set(self, name: str, state: TaskState) -> None:
        if not isinstance(self._states.get(name), Dead):
            self._states[name] = state

    def states(self) -> dict[str, TaskState]:
        return dict(self._states)

    def health(self) -> Health:
        return health(self._states, now_s=self._now_s(), bound_s=self.bound_s)

    async def first_death(self) -> tuple[str, str]:
        """Wait until a task dies; its name and the reason."""
        return await self._death_queue().get()

    async def stop(self, *, timeout_s: float = 10) -> None:
        """The process is stopping: tasks that end now are not deaths; cancel the rest."""
        self.stopping = True
        tasks = [t for t in self._tasks.values() if not t.done()]
        if tasks:
            _done, late = await asyncio.wait(tasks, timeout=timeout_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)


async def until_stopped_or_dead(
    registry: TaskRegistry, stop: asyncio.Event, *also: "asyncio.Future[None]"
) -> tuple[str, str] | None:
    """Wait for ``stop`` (or any of ``also`` to finish) or a task's death; the dead task's
    name and reason, or None when the process is stopping normally."""
    stopped: asyncio.Future[object] = asyncio.ensure_future(stop.wait())
    died: asyncio.Future[tuple[str, str]] = asyncio.ensure_future(registry.first_death())
    waiting: set[asyncio.Future[Any]] = {stopped, died, *also}
    try:
        done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not died.done():
            died.cancel()
    return died.result() if died in done else None
