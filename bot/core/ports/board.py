"""The board: what the Slack App Home shows, read by the shell in a few round trips.

For every configured service and environment (``PairBoard``): the deploy live there (from
the deploy history), the newest deploy when it is not the live one (it failed), who holds the
pair's deploy lock, the quarantined commits and the requests waiting for approval (each with
its thread's open request, so a channel can ask ``bot.core.policy.approval`` who may decide
it). For every environment (``EnvironmentBoard``): a person's lock on it and the freezes in
force. Facts only, as read at ``Board.at``: which of them a person sees, and which decisions
they are offered, is the channel's to ask policy (``channels.slack.home.view``).

The release policy's parts: ``EnvironmentBoard.freezes`` (the freeze window in force),
``PairBoard.queue`` (plans waiting for the pair, next to run first) and ``PairBoard.soak``
(how the live commit stands toward the environments that require this one: its soak, from
``bot.core.release.promotion.soak_progress``).

``BoardSource`` is the port that reads it (``bot.shell.home.board.BoardReader``).
"""

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from bot.core.thread.plan import DeployRecord, Quarantined
from bot.core.thread.thread import OpenApproval

__all__ = [
    "ActiveFreeze",
    "Board",
    "BoardSource",
    "EnvironmentBoard",
    "Held",
    "PairBoard",
    "QueuedPlan",
    "SoakProgress",
    "Waiting",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Held(_Frozen):
    """A lock as shown: a deploy holding a pair, or a person's lock on an environment."""

    who: str
    why: str
    since: datetime
    thread_id: str = ""  # the deploy's thread ("" for a person's lock)
    interrupted: bool = False  # held after a deploy whose outcome is unknown, until unlocked


class ActiveFreeze(_Frozen):
    """A freeze window in force (``[[freezes]]``)."""

    name: str
    reason: str
    until: datetime | None = None  # None: not known when it ends


class QueuedPlan(_Frozen):
    """A plan waiting for its held pair, as its queue keeps it (position 1 runs next)."""

    thread_id: str
    plan_hash: str
    version: str
    requester: str


class SoakProgress(_Frozen):
    """How the live commit stands toward the environments that require this one."""

    version: str
    since: datetime | None = None  # soak counts from here (None: not counting)
    done_at: datetime | None = None  # soaked at (None: not yet known)
    note: str | None = None  # why it does not count (voided, failed verification)


class Waiting(_Frozen):
    """A request waiting for approval: its thread and the thread's open request."""

    thread_id: str
    approval: OpenApproval


class PairBoard(_Frozen):
    service: str
    environment: str
    live: DeployRecord | None = None  # the newest successful deploy or rollback
    latest: DeployRecord | None = None  # the newest deploy when it is not ``live``
    deploying: Held | None = None  # the pair's deploy lock
    quarantined: list[Quarantined] = []
    waiting: list[Waiting] = []
    queue: list[QueuedPlan] = []  # next to run first
    soak: SoakProgress | None = None  # not read for the board yet


class EnvironmentBoard(_Frozen):
    name: str
    locked: Held | None = None  # a person's lock (``lock production <reason>``)
    freezes: list[ActiveFreeze] = []  # in force at ``Board.at`` ([[freezes]])


class Board(_Frozen):
    at: datetime  # when it was read
    environments: list[EnvironmentBoard]
    pairs: list[PairBoard]  # in the config's order: service by service

    def environment(self, name: str) -> EnvironmentBoard | None:
        return next((e for e in self.environments if e.name == name), None)


class BoardSource(Protocol):
    async def read(self) -> Board:
        """The board now (``Board.at``: the clock's time when read)."""
        ...
