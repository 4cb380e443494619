"""The concrete ``ChannelPorts`` (``bot.core.ports.channel_ports``): every port a channel
uses, on one Redis, built once by the wiring and handed to the channels whole.

``outbox``: the app's own (its delivery failures feed ``/healthz``); a new one otherwise.
Every port is ``guarded`` (bot/shell/store/guarded.py): a Redis failure reaches a channel as
the core's ``StoreError`` or, for an outage, ``StoreUnavailable``, never as Redis's own.
"""

from redis.asyncio import Redis

from bot.core.ports.channel_ports import ChannelPorts
from bot.shell.store.channel_state import RedisMailState, RedisSlackState
from bot.shell.store.guarded import guarded
from bot.shell.store.keys import Keys
from bot.shell.store.threads import ThreadStore
from bot.shell.streams.channel_threads import ChannelThreads
from bot.shell.streams.inbound import InboundQueue
from bot.shell.streams.outbox import Outbox
from bot.shell.streams.refusals import MailRefusals
from bot.shell.streams.set_aside import SetAsideInputs

__all__ = ["channel_ports"]


def channel_ports(
    *,
    redis: "Redis",
    keys: Keys,
    store: ThreadStore | None = None,
    queue: InboundQueue | None = None,
    outbox: Outbox | None = None,
) -> ChannelPorts:
    """The channels' ports; ``store``, ``queue`` and ``outbox`` are the app's when given."""
    queue = queue or InboundQueue(redis=redis, keys=keys)
    outbox = outbox or Outbox(redis=redis, keys=keys)
    store = store or ThreadStore(redis=redis, keys=keys)
    return ChannelPorts(
        inbound=guarded(queue),
        threads=guarded(ChannelThreads(store=store, queue=queue)),
        notices=guarded(outbox),
        replies=guarded(outbox),
        set_aside=guarded(SetAsideInputs(redis=redis, keys=keys)),
        refusals=guarded(MailRefusals(redis=redis, keys=keys)),
        slack=guarded(RedisSlackState(redis=redis, keys=keys)),
        mail=guarded(RedisMailState(redis=redis, keys=keys)),
    )
