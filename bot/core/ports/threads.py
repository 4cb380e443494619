"""The threads as a channel sees them: read one, or start one with its first event.

Implemented by ``bot.shell.streams.channel_threads.ChannelThreads`` (the thread store and
the inbound stream together).
"""

from typing import Protocol

from bot.core.thread.thread import Thread

__all__ = ["Threads"]


class Threads(Protocol):
    async def load(self, thread_id: str) -> Thread | None:
        """The thread as last saved, or None if there is none by that id."""
        ...

    async def start(self, thread: Thread) -> bool:
        """Create ``thread`` (version 0, one event) and publish its first event for a worker,
        in one round trip; ``False`` when a thread with its id exists already."""
        ...
