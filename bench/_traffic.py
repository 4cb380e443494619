"""Count what this process sends to Redis: round trips and commands by name.

Wraps redis-py's asyncio connection methods (bench only; the bot is not changed): every
``send_packed_command`` is one round trip (a pipeline or a script call is one), every
``pack_command`` one command.
"""

from collections import Counter
from typing import Any

from redis.asyncio.connection import AbstractConnection

__all__ = ["Traffic", "count_traffic"]


class Traffic:
    round_trips = 0
    commands: Counter[str] = Counter()

    @classmethod
    def snapshot(cls) -> dict[str, Any]:
        return {"round_trips": cls.round_trips, "commands": dict(cls.commands)}


def count_traffic() -> None:
    send = AbstractConnection.send_packed_command
    pack = AbstractConnection.pack_command

    async def counted_send(
        self: AbstractConnection, command: Any, check_health: bool = True
    ) -> None:
        Traffic.round_trips += 1
        await send(self, command, check_health)

    def counted_pack(self: AbstractConnection, *args: Any) -> list[bytes]:
        name = args[0]
        name = name.decode() if isinstance(name, bytes) else str(name)
        Traffic.commands[name.split()[0].lower()] += 1
        return pack(self, *args)

    AbstractConnection.send_packed_command = counted_send  # type: ignore[method-assign]
    AbstractConnection.pack_command = counted_pack  # type: ignore[method-assign]
