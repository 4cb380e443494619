"""The event loop every long-running command runs on: uvloop's, on libuv.

A worker's turn is mostly waiting on sockets (Redis, the supervisor server, a channel's
HTTP), and the default asyncio loop spends about a fifth of the worker's CPU on scheduling
callbacks and reading sockets (cProfile of ``bench/threads.py``, issue 18). uvloop runs the
same asyncio programs with that bookkeeping in C. It also waits for child processes itself
(libuv's SIGCHLD handling), so no asyncio child watcher is installed under it.

``run`` is ``asyncio.run`` with that loop: the coroutine runs to its end, then every task
left is cancelled and the loop closed, as ``asyncio.run`` does.
"""

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

__all__ = ["is_uvloop", "run"]

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to its end on a new uvloop event loop, then close the loop."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def is_uvloop(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether ``loop`` is uvloop's (it needs no asyncio child watcher)."""
    return isinstance(loop, uvloop.Loop)
