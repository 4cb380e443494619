"""No single email stops the mail listener: real Dovecot, the real IMAP client, real Redis.

The issue's message (1,000 nested multipart parts, 66 KB) made the parser raise
``RecursionError``; the listener died and met the same message at every restart. Here it is
set aside (counted, logged, kept for the audit, flagged ``\\Seen \\Flagged``), never fetched
again, and the request after it is published exactly once. A message the process dies on
is set aside after ``MAX_TRIES`` starts. Hypothesis feeds hostile mail through the same
path and checks, after each, that the listener is alive and handles the next request.
"""

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from pydantic import SecretStr
from redis.asyncio import Redis

from bot.core.thread.set_aside import SetAside
from bot.shell.runtime.metrics import Metrics
from bot.shell.store.keys import Keys
from bot.shell.streams.channel_ports import channel_ports
from bot.shell.streams.inbound import Envelope
from bot.shell.streams.set_aside import SetAsideInputs
from channels.email import intake
from channels.email.listener import MAX_TRIES, ImapServer, MailListener
from channels.email.triage import MailRules
from tests.fakes.mail_servers import Dovecot
from tests.poison import hostile_mail, nested_mail, valid_request

RULES = MailRules(
    bot_address="deploybot@example.com",
    secret=b"s3cret",
    known_senders=frozenset({"dave@example.com"}),
    require_dmarc=False,  # about parsing, not about who sent it
)


@pytest.fixture
def dovecot(tmp_path: Path) -> Iterator[Dovecot]:
    (tmp_path / "dovecot").mkdir()
    server = Dovecot(tmp_path / "dovecot", {"deploybot": "pw"})
    server.start()
    yield server
    server.stop()


class Listening:
    """One MailListener task on the test's Dovecot and Redis."""

    def __init__(self, dovecot: Dovecot, redis: Redis, keys: Keys) -> None:
        self.redis, self.keys = redis, keys
        self.listener = MailListener(
            imap=ImapServer(
                host="127.0.0.1",
                port=dovecot.port,
                username="deploybot",
                password=SecretStr("pw"),
                ssl=False,
                timeout_s=5,
            ),
            ports=channel_ports(redis=redis, keys=keys),
            rules=RULES,
            clock=lambda: datetime.now(UTC),
            max_backoff_s=0.3,
        )
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(self.listener.run(self.stop))

    async def ids(self) -> list[str]:
        entries: Any = await self.redis.xrange(self.keys.inbound())
        return [Envelope.model_validate_json(f[b"e"]).event.id for _id, f in entries]

    async def wait_for_id(self, event_id: str, timeout_s: float = 20) -> None:
        deadline = time.monotonic() + timeout_s
        while event_id not in await self.ids():
            assert not self.task.done(), f"the listener stopped: {self.task}"
            assert time.monotonic() < deadline, f"{event_id} was never published"
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 10)


@pytest.fixture
async def listen(
    dovecot: Dovecot, redis: Redis, key_prefix: str
) -> AsyncIterator[Callable[[], Listening]]:
    started: list[Listening] = []

    def make() -> Listening:
        started.append(Listening(dovecot, redis, Keys(key_prefix)))
        return started[-1]

    yield make
    for one in started:
        if not one.task.done():
            await one.close()


def flags(dovecot: Dovecot) -> list[str]:
    """Each message's Maildir flags (``FS``: flagged and seen), oldest first: by the time in
    its file name (``<seconds>.M<microseconds>P<pid>...``; the microseconds are not padded,
    so the names alone do not sort by age)."""
    folder = dovecot.base / "mail" / "deploybot"
    names = [p.name for sub in ("new", "cur") for p in (folder / sub).glob("*")]
    return [n.partition(":2,")[2] for n in sorted(names, key=_delivered_at)]


def _delivered_at(name: str) -> tuple[int, int, str]:
    found = re.match(r"(\d+)\.M(\d+)", name)
    return (int(found[1]), int(found[2]), name) if found else (0, 0, name)


async def set_aside(redis: Redis, key_prefix: str) -> list[SetAside]:
    return await SetAsideInputs(redis=redis, keys=Keys(key_prefix)).since(
        datetime.min.replace(tzinfo=UTC)
    )


async def test_the_issues_message_is_set_aside_and_the_next_is_handled_once(
    dovecot: Dovecot, listen: Callable[[], Listening], redis: Redis, key_prefix: str
) -> None:
    running = listen()
    await asyncio.wait_for(running.listener.connected.wait(), 10)
    dovecot.save("deploybot", nested_mail(1000))
    dovecot.save("deploybot", valid_request(1))
    await running.wait_for_id("<valid1@mail.example.com>")
    await asyncio.sleep(0.5)
    assert await running.ids() == ["<valid1@mail.example.com>"]
    assert flags(dovecot) == ["FS", "S"]  # the poison is flagged for a person, and seen
    [item] = await set_aside(redis, key_prefix)
    assert (item.channel, item.reason) == ("email", "too_deep")
    assert item.ref == "INBOX uid 1 <nested0@stranger.test>"
    counters = await Metrics(redis=redis, keys=Keys(key_prefix)).counters()
    assert counters["inputs_set_aside_total|channel=email,reason=too_deep"] == 1
    assert not running.task.done()
    await running.close()

    again = listen()  # a restart fetches neither again
    await asyncio.wait_for(again.listener.connected.wait(), 10)
    dovecot.save("deploybot", valid_request(2))
    await again.wait_for_id("<valid2@mail.example.com>")
    assert await again.ids() == ["<valid1@mail.example.com>", "<valid2@mail.example.com>"]
    assert len(await set_aside(redis, key_prefix)) == 1


class _Died(BaseException):
    """What a process dying on a message looks like to the code after it: nothing runs."""


async def test_a_message_the_process_dies_on_is_set_aside_after_the_tries(
    dovecot: Dovecot,
    listen: Callable[[], Listening],
    redis: Redis,
    key_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_take = intake.MailIntake.take

    async def take(self: intake.MailIntake, raw: bytes, *, size_bytes: int, ref: str) -> bool:
        if b"<deadly@" in raw:
            raise _Died
        return await real_take(self, raw, size_bytes=size_bytes, ref=ref)

    monkeypatch.setattr(intake.MailIntake, "take", take)
    deadly = valid_request(0).replace(b"<valid0@", b"<deadly@")
    dovecot.save("deploybot", deadly)
    dovecot.save("deploybot", valid_request(1))
    for _ in range(MAX_TRIES):
        dying = listen()
        with pytest.raises(_Died):
            await asyncio.wait_for(dying.task, 20)
        assert await dying.ids() == []  # the request behind it waits, for now
    survivor = listen()
    await survivor.wait_for_id("<valid1@mail.example.com>")
    [item] = await set_aside(redis, key_prefix)
    assert item.reason == "crashed"
    assert item.detail == f"its handling was started {MAX_TRIES} times and never finished"
    assert flags(dovecot) == ["FS", "S"]
    assert not survivor.task.done()


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw=hostile_mail)
async def test_after_any_mail_the_listener_is_alive_and_handles_the_next(
    raw: bytes, dovecot: Dovecot, listen: Callable[[], Listening]
) -> None:
    running = _shared.get(id(dovecot)) or listen()
    _shared[id(dovecot)] = running
    n = time.monotonic_ns()
    dovecot.save("deploybot", raw)
    dovecot.save("deploybot", valid_request(n))
    await running.wait_for_id(f"<valid{n}@mail.example.com>")
    assert (await running.ids()).count(f"<valid{n}@mail.example.com>") == 1
    assert not running.task.done()


_shared: dict[int, Listening] = {}  # one listener for all examples of one test run


async def test_mail_announced_during_a_fetch_is_not_left_for_the_idle_renewal(
    redis: Redis, key_prefix: str
) -> None:
    """Dovecot announced a delivery (``* 1 EXISTS``) inside the catch-up FETCH's answer,
    which aioimaplib drops, and never again: the request waited for the IDLE renewal (25
    minutes). This server answers exactly so, and says nothing during IDLE."""
    raw = valid_request(7)
    fetches = 0

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal fetches
        writer.write(b"* OK [CAPABILITY IMAP4rev1 IDLE] ready\r\n")
        while line := await reader.readline():
            tag, _, command = line.decode().strip().partition(" ")
            verb = command.upper()
            if verb.startswith("CAPABILITY"):
                writer.write(b"* CAPABILITY IMAP4rev1 IDLE\r\n")
            elif verb.startswith("SELECT"):
                writer.write(b"* 0 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n")
            elif verb.startswith("UID FETCH 1:*"):
                fetches += 1
                if fetches == 1:  # delivered while we answer: said once, here
                    writer.write(b"* 1 EXISTS\r\n")
                else:
                    writer.write(b"* 1 FETCH (UID 1 RFC822.SIZE %d FLAGS ())\r\n" % len(raw))
            elif verb.startswith("UID FETCH 1 "):
                writer.write(b"* 1 FETCH (UID 1 BODY[] {%d}\r\n" % len(raw) + raw + b")\r\n")
            elif verb.startswith("IDLE"):
                writer.write(b"+ idling\r\n")
                await writer.drain()
                await reader.readline()  # DONE, whenever the listener stops idling
            elif verb.startswith("LOGOUT"):
                writer.write(b"* BYE\r\n%s OK bye\r\n" % tag.encode())
                await writer.drain()
                break
            writer.write(f"{tag} OK done\r\n".encode())
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(session, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    keys = Keys(key_prefix)
    listener = MailListener(
        imap=ImapServer(
            host="127.0.0.1",
            port=port,
            username="deploybot",
            password=SecretStr("pw"),
            ssl=False,
            timeout_s=5,
            idle_s=600,
        ),
        ports=channel_ports(redis=redis, keys=keys),
        rules=RULES,
        clock=lambda: datetime.now(UTC),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(listener.run(stop))
    try:
        for _ in range(100):
            if await redis.xlen(keys.inbound()):
                break
            await asyncio.sleep(0.05)
        entries: Any = await redis.xrange(keys.inbound())
        assert [Envelope.model_validate_json(f[b"e"]).event.id for _id, f in entries] == [
            "<valid7@mail.example.com>"
        ]
        assert fetches == 2
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        server.close()
        await server.wait_closed()
