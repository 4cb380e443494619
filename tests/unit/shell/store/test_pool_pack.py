"""``QuickSend.pack_command``: what the bot's connections put on the wire is byte for byte
what redis-py's own connection packs, for every kind of argument; what the quick way does
not take (a float, a bool, a memoryview, a two-word name, another encoding) goes redis-py's
way and fails as redis-py fails."""

from typing import Any

import pytest
from redis.asyncio.connection import Connection
from redis.connection import HiredisRespSerializer
from redis.exceptions import DataError

from bot.shell.store.pool import QuickConnection

CASES: list[tuple[Any, ...]] = [
    ("GET", "deploybot:thread:abc"),
    ("SET", "k", b"\x00\xffbinary", "PX", 30000),
    ("EVALSHA", "a" * 40, 2, "k1", "k2", "token", -1, 2**70),
    ("SET", "k", "déploiement ✓ 日本"),  # UTF-8
    ("SET", "k", ""),
    ("ZADD", "k", 1.5, "m"),  # a float: redis-py's way
    ("CLIENT SETINFO", "LIB-NAME", "x"),  # a name of two words: redis-py's way
    (b"GET", "k"),  # a name as bytes: redis-py's way
    ("SET", "k", memoryview(b"view")),  # redis-py's way
    ("SET", "k", bytearray(b"array")),  # redis-py's way
]


@pytest.mark.parametrize("args", CASES, ids=[repr(c)[:40] for c in CASES])
def test_a_command_is_packed_as_redis_py_packs_it(args: tuple[Any, ...]) -> None:
    quick, plain = QuickConnection(), Connection()
    assert b"".join(quick.pack_command(*args)) == b"".join(plain.pack_command(*args))


@pytest.mark.parametrize("bad", [True, None, object(), ["a"]])
def test_what_redis_py_refuses_is_refused_alike(bad: object) -> None:
    for connection in (QuickConnection(), Connection()):
        with pytest.raises(DataError):
            connection.pack_command("SET", "k", bad)


def test_another_encoding_is_packed_as_redis_py_packs_it() -> None:
    quick, plain = QuickConnection(encoding="latin-1"), Connection(encoding="latin-1")
    args = ("SET", "k", "déjà")
    assert b"".join(quick.pack_command(*args)) == b"".join(plain.pack_command(*args))
    assert b"d\xe9j\xe0" in b"".join(quick.pack_command(*args))


def test_text_bytes_and_whole_numbers_skip_redis_pys_packer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    packed: list[tuple[Any, ...]] = []
    original = HiredisRespSerializer.pack

    def counted(self: HiredisRespSerializer, *args: Any) -> Any:
        packed.append(args)
        return original(self, *args)

    monkeypatch.setattr(HiredisRespSerializer, "pack", counted)
    quick = QuickConnection()
    for args in CASES:
        quick.pack_command(*args)
    assert [args[0] for args in packed] == ["ZADD", "CLIENT SETINFO", b"GET", "SET", "SET"]
