"""The shell's dependencies, as one frozen, typed set built once by the wiring
(``bot.app.bootstrap``) and passed whole: ``Context``.

What it holds is what many parts share: the config, the clock (time and ids), the limits
read from the settings, and the stores, one object per thing kept in Redis. It holds no
part that does work for a step (an executor, a deployer, a verifier): those are built from
it and passed by name to the few that call them. A class takes the context and what is
truly its own, and reads only the fields it uses.

Why here, on the ``world`` floor: the stores it names come from ``store``, ``streams``,
``lock``, ``runtime`` and ``world`` itself, so this is the lowest floor that may import them
all; everything that takes a context (``world``, ``deploy``, ``verify``, ``loop``) is at or
above it. The floors below take only what they use (``bot.shell.runtime.clock.Clock``).
"""

from dataclasses import dataclass

from bot.core.config.config import Config
from bot.core.loop.next_step import MODEL_CALLS_PER_MESSAGE
from bot.shell.lock.lease import EnvLock
from bot.shell.runtime.clock import SYSTEM_CLOCK, Clock
from bot.shell.runtime.metrics import Metrics
from bot.shell.store.keys import Keys
from bot.shell.store.threads import ThreadStore
from bot.shell.streams.inbound import InboundQueue
from bot.shell.streams.outbox import Outbox
from bot.shell.world.history import DeployHistory
from bot.shell.world.pending import PendingApprovals
from bot.shell.world.quarantine import QuarantineList
from bot.shell.world.queue import PairQueue
from bot.shell.world.soak import SoakMarks

__all__ = ["Context", "Limits"]


@dataclass(frozen=True, kw_only=True)
class Limits:
    """The bounds the settings give the loop and its deploys (DEPLOYBOT_*)."""

    #: A deploy's lock lease, renewed every third of it (bot/shell/deploy/watch.py).
    lock_ttl_ms: int = 30_000
    #: How long a deploy waits for its pair's lock before it says "busy".
    lock_wait_s: float = 300
    #: A thread's lease while a worker advances it (bot/shell/loop/heartbeat.py).
    lease_ttl_ms: int = 15_000
    #: Deliveries of one inbound entry before it is set aside (bot/shell/loop/entry.py).
    max_deliveries: int = 5
    #: Redis replicas a deploy's start must reach before it runs (0: not asked).
    redis_replicas: int = 0
    #: How long the start waits for those replicas.
    redis_wait_ms: int = 1000
    #: How often a running deploy's progress message is edited.
    progress_every_s: float = 5
    #: Model calls per person's message before a human is asked.
    model_calls_per_message: int = MODEL_CALLS_PER_MESSAGE


@dataclass(frozen=True, kw_only=True)
class Context:
    """What the shell's parts share; built once (bot/app/bootstrap.py), never changed."""

    config: Config
    clock: Clock = SYSTEM_CLOCK
    limits: Limits = Limits()
    keys: Keys
    store: ThreadStore
    queue: InboundQueue
    outbox: Outbox
    history: DeployHistory
    env_lock: EnvLock
    quarantine: QuarantineList
    pending: PendingApprovals
    soak: SoakMarks
    line: PairQueue  # the per-pair queues of plans waiting for a held pair
    metrics: Metrics
