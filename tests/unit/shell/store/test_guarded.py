"""The ports' boundary for store failures: Redis's errors reach a channel as the core's
StoreUnavailable (an outage) or StoreError (anything else), with Redis's error as the cause;
everything else passes unchanged. The last test drives the real ports on a Redis that is not
there."""

from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis
from redis.exceptions import (
    AuthenticationError,
    BusyLoadingError,
    ConnectionError,
    NoScriptError,
    ReadOnlyError,
    RedisError,
    ResponseError,
    TimeoutError,
)

from bot.core.errors import StoreError, StoreUnavailable
from bot.core.ports.inbound import Envelope
from bot.core.thread.events import UserMessage
from bot.shell.store.guarded import guarded, store_error
from bot.shell.store.keys import Keys
from bot.shell.streams.channel_ports import channel_ports


@pytest.mark.parametrize(
    ("raised", "kind"),
    [
        (ConnectionError("Error 111 connecting"), StoreUnavailable),
        (TimeoutError("Timeout reading from socket"), StoreUnavailable),
        (BusyLoadingError("LOADING Redis is loading the dataset"), StoreUnavailable),
        (ReadOnlyError("READONLY You can't write against a read only replica"), StoreUnavailable),
        (AuthenticationError("invalid password"), StoreUnavailable),  # a ConnectionError
        (ResponseError("WRONGTYPE Operation against a key"), StoreError),
        (NoScriptError("NOSCRIPT No matching script"), StoreError),
        (RedisError("something else"), StoreError),
    ],
)
def test_each_redis_error_becomes_the_cores_error_of_its_kind(
    raised: RedisError, kind: type[StoreError]
) -> None:
    got = store_error(raised)
    assert type(got) is kind
    assert type(raised).__name__ in str(got)
    assert str(raised) in str(got)


class Port:
    """A port whose calls do what they are told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self.name = "port"

    async def load(self, thread_id: str, *, times: int = 1) -> str:
        self.calls.append((thread_id, times))
        return thread_id * times

    async def fail(self, exc: Exception) -> None:
        raise exc


async def test_a_call_passes_its_arguments_and_returns_what_the_port_returns() -> None:
    port = Port()
    assert await guarded(port).load("t1", times=2) == "t1t1"
    assert port.calls == [("t1", 2)]
    assert guarded(port).name == "port"  # no coroutine method: the attribute itself


async def test_a_redis_error_is_raised_as_the_cores_with_redis_as_its_cause() -> None:
    lost = ConnectionError("Connection closed by server.")
    with pytest.raises(StoreUnavailable) as caught:
        await guarded(Port()).fail(lost)
    assert caught.value.__cause__ is lost
    wrong = ResponseError("WRONGTYPE")
    with pytest.raises(StoreError) as other:
        await guarded(Port()).fail(wrong)
    assert type(other.value) is StoreError
    assert other.value.__cause__ is wrong


@pytest.mark.parametrize("exc", [ValueError("bad input"), OSError("smtp down"), KeyError("x")])
async def test_any_other_error_passes_unchanged(exc: Exception) -> None:
    with pytest.raises(type(exc)) as caught:
        await guarded(Port()).fail(exc)
    assert caught.value is exc


async def test_the_channels_ports_on_a_redis_that_is_not_there_raise_store_unavailable() -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    try:
        ports = channel_ports(redis=dead, keys=Keys("guarded-test"))
        at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        event = UserMessage(id="e1", at=at, actor="slack:U0CAROL", text="status")
        with pytest.raises(StoreUnavailable) as caught:
            await ports.inbound.publish(Envelope(thread_id="t1", event=event))
        assert isinstance(caught.value.__cause__, ConnectionError)
        with pytest.raises(StoreUnavailable):
            await ports.threads.load("t1")
        with pytest.raises(StoreUnavailable):
            await ports.slack.owner("C1:1.1")
    finally:
        await dead.aclose()
