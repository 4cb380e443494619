"""MailListener against a real Dovecot: IDLE, catch-up by UID, \\Seen after publish, faults."""

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from bot.shell.store.keys import Keys
from bot.shell.streams.channel_ports import channel_ports
from bot.shell.streams.inbound import Envelope
from channels.email.listener import ImapServer, MailListener
from channels.email.triage import MailRules
from tests.fakes.mail_servers import Dovecot

RULES = MailRules(
    bot_address="deploybot@example.com",
    secret=b"s3cret",
    known_senders=frozenset({"alice@example.com", "dave@example.com"}),
    require_dmarc=False,  # these tests are about IMAP, not about who sent the mail
)


def request(n: int, sender: str = "dave@example.com") -> bytes:
    return (
        f"From: Dave <{sender}>\r\nTo: deploybot@example.com\r\nSubject: deploy\r\n"
        f"Message-ID: <req{n}@mail.example.com>\r\n\r\ndeploy backend to staging\r\n"
    ).encode()


@pytest.fixture
def dovecot(tmp_path: Path) -> Iterator[Dovecot]:
    server = Dovecot(tmp_path / "dovecot", {"deploybot": "pw"})
    (tmp_path / "dovecot").mkdir()
    server.start()
    yield server
    server.stop()


class Running:
    def __init__(self, listener: MailListener, redis: Redis, keys: Keys) -> None:
        self.listener = listener
        self.redis = redis
        self.keys = keys
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(listener.run(self.stop))

    async def envelopes(self) -> list[Envelope]:
        entries: Any = await self.redis.xrange(self.keys.inbound())
        return [Envelope.model_validate_json(f[b"e"]) for _id, f in entries]

    async def wait_for(self, count: int, timeout_s: float = 15) -> list[Envelope]:
        deadline = time.monotonic() + timeout_s
        while len(got := await self.envelopes()) < count:
            assert time.monotonic() < deadline, f"expected {count} envelopes, got {len(got)}"
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # and no more than that
        return await self.envelopes()

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 10)


@pytest.fixture
async def start(dovecot: Dovecot, redis: Redis, key_prefix: str) -> AsyncIterator[object]:
    keys = Keys(key_prefix)
    running: list[Running] = []

    def make() -> Running:
        listener = MailListener(
            imap=ImapServer(
                host="127.0.0.1",
                port=dovecot.port,
                username="deploybot",
                password=SecretStr("pw"),
                ssl=False,
                timeout_s=3,
            ),
            ports=channel_ports(redis=redis, keys=keys),
            rules=RULES,
            clock=lambda: datetime.now(UTC),
            max_backoff_s=0.5,
        )
        running.append(Running(listener, redis, keys))
        return running[-1]

    yield make
    for r in running:
        await r.close()


async def test_mail_is_published_once_and_flagged_seen(dovecot: Dovecot, start) -> None:  # type: ignore[no-untyped-def]
    dovecot.save("deploybot", request(1))
    first = start()
    got = await first.wait_for(1)
    assert [e.event.id for e in got] == ["<req1@mail.example.com>"]
    assert got[0].thread_id.startswith("e")
    await asyncio.wait_for(first.listener.connected.wait(), 5)
    await asyncio.sleep(0.3)  # in IDLE now
    dovecot.save("deploybot", request(2))
    got = await first.wait_for(2)
    assert [e.event.id for e in got][-1] == "<req2@mail.example.com>"
    await first.close()
    second = start()  # a restart handles nothing twice
    await asyncio.wait_for(second.listener.connected.wait(), 5)
    await asyncio.sleep(0.5)
    assert len(await second.envelopes()) == 2
    seen = list((dovecot.base / "mail" / "deploybot" / "cur").iterdir())
    assert len(seen) == 2
    assert all(":2,S" in p.name for p in seen)


async def test_auto_replies_and_strangers_are_ignored_but_seen(dovecot: Dovecot, start) -> None:  # type: ignore[no-untyped-def]
    dovecot.save("deploybot", request(1, sender="mallory@evil.test"))
    dovecot.save(
        "deploybot", request(2).replace(b"\r\n\r\n", b"\r\nAuto-Submitted: auto-replied\r\n\r\n", 1)
    )
    dovecot.save("deploybot", request(3))
    running = start()
    got = await running.wait_for(1)
    assert [e.event.id for e in got] == ["<req3@mail.example.com>"]


async def test_dovecot_restarted_mid_idle(dovecot: Dovecot, start) -> None:  # type: ignore[no-untyped-def]
    running = start()
    await asyncio.wait_for(running.listener.connected.wait(), 5)
    await asyncio.sleep(0.3)
    dovecot.stop()
    dovecot.drop("deploybot", request(1))  # arrives while the server is down
    await asyncio.sleep(0.5)
    dovecot.start()
    dovecot.save("deploybot", request(2))
    got = await running.wait_for(2, timeout_s=20)
    assert sorted(e.event.id for e in got) == ["<req1@mail.example.com>", "<req2@mail.example.com>"]


async def test_first_start_skips_mail_read_before_and_refuses_oversized(  # type: ignore[no-untyped-def]
    dovecot: Dovecot, start, redis: Redis, key_prefix: str
) -> None:
    old = dovecot.base / "mail" / "deploybot" / "cur" / "1.old.test:2,S"
    dovecot.drop("deploybot", b"")  # creates the Maildir
    old.write_bytes(request(0))
    dovecot.save("deploybot", request(1).replace(b"deploy backend", b"x" * 300_000))
    dovecot.save("deploybot", request(2))
    running = start()
    got = await running.wait_for(1)
    assert [e.event.id for e in got] == ["<req2@mail.example.com>"]
    outbox: Any = await redis.xrange(Keys(key_prefix).outbox("email"))
    assert len(outbox) == 1
    assert b"too large" in outbox[0][1][b"m"]


async def test_a_silent_server_times_out_and_is_retried(redis: Redis, key_prefix: str) -> None:
    connections: list[asyncio.StreamWriter] = []

    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)  # accept, then never say hello

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    keys = Keys(key_prefix)
    listener = MailListener(
        imap=ImapServer(
            host="127.0.0.1",
            port=port,
            username="u",
            password=SecretStr("p"),
            ssl=False,
            timeout_s=0.2,
        ),
        ports=channel_ports(redis=redis, keys=keys),
        rules=RULES,
        clock=lambda: datetime.now(UTC),
        max_backoff_s=0.1,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(listener.run(stop))
    await asyncio.sleep(1.5)
    assert len(connections) >= 3  # timed out and reconnected, again and again
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, 5)
    for writer in connections:
        writer.close()
    server.close()
    await server.wait_closed()
