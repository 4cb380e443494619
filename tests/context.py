"""The shell's dependency context (bot/shell/world/context.py) over a real Redis, for tests
that build one shell part by hand instead of the whole app (``bootstrap()``)."""

from redis.asyncio import Redis

from bot.core.config.config import Config
from bot.shell.lock.lease import EnvLock
from bot.shell.runtime.clock import SYSTEM_CLOCK, Clock
from bot.shell.runtime.metrics import Metrics
from bot.shell.store.keys import Keys
from bot.shell.store.threads import ThreadStore
from bot.shell.streams.inbound import InboundQueue
from bot.shell.streams.outbox import Outbox
from bot.shell.world.context import Context, Limits
from bot.shell.world.history import DeployHistory
from bot.shell.world.pending import PendingApprovals
from bot.shell.world.quarantine import QuarantineList
from bot.shell.world.queue import PairQueue
from bot.shell.world.soak import SoakMarks

__all__ = ["context_over"]


def context_over(
    redis: Redis,
    prefix: str,
    config: Config,
    *,
    clock: Clock = SYSTEM_CLOCK,
    limits: Limits | None = None,
) -> Context:
    """Every store on ``redis`` under key prefix ``prefix`` (no data-loss guard)."""
    keys = Keys(prefix)
    queue = InboundQueue(redis=redis, keys=keys)
    return Context(
        config=config,
        clock=clock,
        limits=limits or Limits(),
        keys=keys,
        store=ThreadStore(redis=redis, keys=keys),
        queue=queue,
        outbox=Outbox(redis=redis, keys=keys),
        history=DeployHistory(redis=redis, keys=keys),
        env_lock=EnvLock(redis=redis, keys=keys, guard=None),
        quarantine=QuarantineList(redis=redis, keys=keys),
        pending=PendingApprovals(keys=keys, queue=queue),
        soak=SoakMarks(redis=redis, keys=keys),
        line=PairQueue(redis=redis, keys=keys, inbound=queue),
        metrics=Metrics(redis=redis, keys=keys),
    )
