"""The mail listener under load and over time (issue 10), against a real Dovecot.

- 1,000 messages appended by another IMAP client while the listener IDLEs: each one is
  published once to the inbound stream and each refusal is queued once.
- An IDLE kept past 29 minutes (by the injected clock, not real time) is renewed: a TCP
  proxy between the listener and Dovecot counts the IDLE commands the listener sends.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aioimaplib
import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from bot.shell.store.keys import Keys
from bot.shell.streams.channel_ports import channel_ports
from bot.shell.streams.inbound import Envelope
from channels.email.listener import ImapServer, MailListener
from channels.email.triage import MailRules
from tests.fakes.mail_servers import Dovecot
from tests.support import Clock

RULES = MailRules(
    bot_address="deploybot@example.com",
    secret=b"s3cret",
    known_senders=frozenset({"dave@example.com"}),
    require_dmarc=False,  # about IMAP, not about who sent the mail
)


def request(n: int) -> bytes:
    return (
        f"From: Dave <dave@example.com>\r\nTo: deploybot@example.com\r\nSubject: deploy {n}\r\n"
        f"Message-ID: <load{n}@mail.example.com>\r\n\r\ndeploy backend to staging\r\n"
    ).encode()


def refused(n: int) -> bytes:
    """A decision sent without its token: answered with a short refusal."""
    return (
        f"From: Dave <dave@example.com>\r\nTo: deploybot@example.com\r\nSubject: Re: x\r\n"
        f"Message-ID: <nope{n}@mail.example.com>\r\n"
        f"In-Reply-To: <deploybot.e0123456789ab.m1@example.com>\r\n\r\napprove\r\n"
    ).encode()


async def _stream(redis: Redis, key: str) -> list[dict[bytes, bytes]]:
    entries: Any = await redis.xrange(key)
    return [fields for _id, fields in entries]


@pytest.fixture
def dovecot(tmp_path: Path) -> Iterator[Dovecot]:
    (tmp_path / "dovecot").mkdir()
    server = Dovecot(tmp_path / "dovecot", {"deploybot": "pw"})
    server.start()
    yield server
    server.stop()


def listener_for(port: int, redis: Redis, keys: Keys, clock: Clock, **imap: float) -> MailListener:
    return MailListener(
        imap=ImapServer(
            host="127.0.0.1",
            port=port,
            username="deploybot",
            password=SecretStr("pw"),
            ssl=False,
            timeout_s=10,
            **imap,
        ),
        ports=channel_ports(redis=redis, keys=keys),
        rules=RULES,
        clock=clock,
        max_backoff_s=0.5,
    )


@contextlib.asynccontextmanager
async def running(listener: MailListener) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(listener.run(stop))
    try:
        await asyncio.wait_for(listener.connected.wait(), 10)
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


async def test_a_thousand_messages_appended_during_idle_are_each_handled_once(
    dovecot: Dovecot, redis: Redis, key_prefix: str
) -> None:
    keys = Keys(key_prefix)
    listener = listener_for(dovecot.port, redis, keys, Clock())
    messages = [refused(n) if n % 10 == 0 else request(n) for n in range(1000)]
    started = time.monotonic()
    async with running(listener):
        await asyncio.sleep(0.3)  # in IDLE now
        appender = aioimaplib.IMAP4(host="127.0.0.1", port=dovecot.port, timeout=10)
        await appender.wait_hello_from_server()
        await appender.login("deploybot", "pw")
        for raw in messages:  # one by one, while the listener is busy catching up
            response = await appender.append(raw, mailbox="INBOX")
            assert response.result == "OK", response
        await appender.logout()
        appended_s = time.monotonic() - started
        deadline = time.monotonic() + 60
        while await redis.xlen(keys.inbound()) < 900:
            assert time.monotonic() < deadline, await redis.xlen(keys.inbound())
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # and nothing more comes
    handled_s = time.monotonic() - started
    ids = [
        Envelope.model_validate_json(f[b"e"]).event.id for f in await _stream(redis, keys.inbound())
    ]
    assert len(ids) == 900
    assert sorted(set(ids)) == sorted(f"<load{n}@mail.example.com>" for n in range(1000) if n % 10)
    answers = [f[b"m"] for f in await _stream(redis, keys.outbox("email"))]
    assert len(answers) == 100
    assert len(set(answers)) == 100  # each refusal answered once
    for n in range(0, 1000, 10):
        assert sum(f"<nope{n}@mail.example.com>".encode() in a for a in answers) == 1
    print(f"1000 messages: appended in {appended_s:.1f} s, all handled in {handled_s:.1f} s")


class CountingProxy:
    """A TCP proxy that counts the IDLE commands a client sends."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.idles = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)

        async def client_to_server() -> None:
            while line := await reader.readline():
                if line.rstrip().upper().endswith(b" IDLE"):
                    self.idles += 1
                up_writer.write(line)
                await up_writer.drain()
            up_writer.close()

        async def server_to_client() -> None:
            while data := await up_reader.read(65536):
                writer.write(data)
                await writer.drain()
            writer.close()

        both = [asyncio.create_task(client_to_server()), asyncio.create_task(server_to_client())]
        self._tasks.update(both)
        await asyncio.gather(*both, return_exceptions=True)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


async def _until(check: Callable[[], bool], timeout_s: float = 5) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_an_idle_kept_past_29_minutes_is_renewed_by_the_injected_clock(
    dovecot: Dovecot, redis: Redis, key_prefix: str
) -> None:
    keys = Keys(key_prefix)
    proxy = CountingProxy(dovecot.port)
    await proxy.start()
    clock = Clock()
    listener = listener_for(proxy.port, redis, keys, clock, idle_check_s=0.05)
    try:
        async with running(listener):
            await _until(lambda: proxy.idles == 1)
            await asyncio.sleep(0.5)  # ten clock readings: still the same IDLE
            assert proxy.idles == 1
            clock.advance(timedelta(minutes=20).total_seconds())
            await asyncio.sleep(0.3)
            assert proxy.idles == 1  # 20 minutes: no need yet
            clock.advance(timedelta(minutes=9).total_seconds())  # 29 minutes in IDLE
            await _until(lambda: proxy.idles == 2)  # DONE, then IDLE again
            dovecot.save("deploybot", request(1))  # and the renewed IDLE still hears news
            await _until(lambda: proxy.idles == 3, timeout_s=10)
            await _until(listener.connected.is_set)
        entries = await _stream(redis, keys.inbound())
        assert [Envelope.model_validate_json(f[b"e"]).event.id for f in entries] == [
            "<load1@mail.example.com>"
        ]
    finally:
        await proxy.stop()
