"""Count what this process sends to Redis: round trips and commands by name.

Wraps redis-py's asyncio connection methods (bench only; the bot is not changed): every
``send_packed_command`` is one round trip (a pipeline or a script call is one), every
``pack_command`` one command. The bot's connections write and pack through
``bot.shell.store.pool.QuickSend``, wrapped too: each write and each command is counted
once, whichever way it goes. Round trips made while ``EntryHandler.handle`` handles an
entry (a context variable marks its task and the tasks it starts, as
tests/integration/shell/loop/test_round_trips.py counts them) are also counted apart as the
turns' own (``turn_round_trips``); the rest are the worker's reading of its entries, its
outbox pumps, timers and watches.
"""

import contextvars
from collections import Counter
from typing import Any

from redis.asyncio.connection import AbstractConnection

from bot.shell.loop.entry import EntryHandler
from bot.shell.store.pool import QuickSend
from bot.shell.streams.inbound import Delivery

_in_turn: contextvars.ContextVar[bool] = contextvars.ContextVar("in_turn", default=False)

__all__ = ["Traffic", "count_traffic"]


class Traffic:
    round_trips = 0
    turn_round_trips = 0
    #: By the command's first argument as given (``"GET"``, ``b"EVALSHA"``, ``"CLIENT SETINFO"``):
    #: named only in ``snapshot``, so counting costs the worker a dict increment.
    sent: Counter[Any] = Counter()

    @classmethod
    def snapshot(cls) -> dict[str, Any]:
        commands: Counter[str] = Counter()
        for first, n in cls.sent.items():
            name = first.decode() if isinstance(first, bytes) else str(first)
            commands[name.split()[0].lower()] += n
        return {
            "round_trips": cls.round_trips,
            "turn_round_trips": cls.turn_round_trips,
            "commands": dict(commands),
        }


def count_traffic(*, commands: bool = True) -> None:
    """Count round trips (and, with ``commands``, commands by name) from now on. A worker
    counts round trips only: its commands are Redis's own count (``INFO commandstats``) less
    what the bench sent (bench/_metering.py), so it pays nothing per command for them."""
    send = AbstractConnection.send_packed_command
    quick_send = QuickSend.send_packed_command
    pack = AbstractConnection.pack_command
    quick_pack = QuickSend.pack_command
    handle = EntryHandler.handle

    def count() -> None:
        Traffic.round_trips += 1
        if _in_turn.get():
            Traffic.turn_round_trips += 1

    async def counted_send(
        self: AbstractConnection, command: Any, check_health: bool = True
    ) -> None:
        if not isinstance(self, QuickSend):  # counted there, even when it falls back to this
            count()
        await send(self, command, check_health)

    async def counted_quick_send(self: QuickSend, command: Any, check_health: bool = True) -> None:
        count()
        await quick_send(self, command, check_health)

    async def marked_handle(self: EntryHandler, delivery: Delivery) -> None:
        token = _in_turn.set(True)
        try:
            await handle(self, delivery)
        finally:
            _in_turn.reset(token)

    def counted_pack(self: AbstractConnection, *args: Any) -> list[bytes]:
        if not isinstance(self, QuickSend):  # counted there, even when it falls back to this
            Traffic.sent[args[0]] += 1
        return pack(self, *args)

    def counted_quick_pack(self: QuickSend, *args: Any) -> list[bytes]:
        Traffic.sent[args[0]] += 1
        return quick_pack(self, *args)

    AbstractConnection.send_packed_command = counted_send  # type: ignore[method-assign]
    QuickSend.send_packed_command = counted_quick_send  # type: ignore[method-assign]
    if commands:
        AbstractConnection.pack_command = counted_pack  # type: ignore[method-assign]
        QuickSend.pack_command = counted_quick_pack  # type: ignore[method-assign]
    EntryHandler.handle = marked_handle  # type: ignore[method-assign]
