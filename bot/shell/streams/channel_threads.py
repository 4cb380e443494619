"""The ``Threads`` port (``bot.core.ports.threads``): the thread store and the inbound stream
as a channel sees them.

``start`` saves a new thread (compare-and-set from version 0, so it is created at most once)
with its first event's publication in one round trip: a GET right after the answer finds it.
"""

from bot.core.errors import ThreadConflict
from bot.core.ports.inbound import Envelope
from bot.core.thread.thread import Thread
from bot.shell.store.threads import ThreadStore
from bot.shell.streams.inbound import InboundQueue

__all__ = ["ChannelThreads"]


class ChannelThreads:
    def __init__(self, *, store: ThreadStore, queue: InboundQueue) -> None:
        self._store = store
        self._queue = queue

    async def load(self, thread_id: str) -> Thread | None:
        return await self._store.load(thread_id)

    async def start(self, thread: Thread) -> bool:
        envelope = Envelope(
            thread_id=thread.id, event=thread.events[0], origin=thread.origin, agent=thread.agent
        )
        try:
            await self._store.save(
                thread, with_it=lambda pipe: self._queue.publish_in(pipe, envelope)
            )
        except ThreadConflict:
            return False
        return True
