"""MailListener: the bot's mailbox over IMAP IDLE, each new message published once.

For every message after the last UID recorded (``MailState``: per mailbox, with its UIDVALIDITY):
fetch it (only the headers when it is over the size cap), triage it, publish the event to
the inbound stream (or queue a short refusal in the outbox), then flag it ``\\Seen`` and
record its UID. A crash in between repeats the publish, which the worker drops by event id
(the Message-ID). Every IMAP call has a timeout; any failure (a drop, ``* BYE``, a hung
command) reconnects with backoff; IDLE is re-issued every ``idle_s`` (< 29 minutes), timed
by the injected clock, which is read every ``idle_check_s``.

No single message stops the listener: reading one is capped and contained
(``channels.email.intake``), and one whose handling never finished ``MAX_TRIES`` times (the
process died on it) is not tried again. Either is set aside (logged, counted, audited),
flagged ``\\Seen \\Flagged``, and the next message is handled. Of a message over
``max_bytes`` at most ``_HEADER_FETCH_BYTES`` of headers are fetched.
"""

import asyncio
import contextlib
import logging
import re
import ssl
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import aioimaplib
from pydantic import BaseModel, ConfigDict, SecretStr

from bot.core.errors import StoreUnavailable
from bot.core.ports.channel_ports import ChannelPorts
from bot.core.ports.health import Health
from channels.email.intake import MailIntake
from channels.email.triage import MailRules

__all__ = ["MAX_TRIES", "ImapServer", "MailListener"]

log = logging.getLogger("deploybot.email")

_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")
_EXISTS = re.compile(rb"^\d+ EXISTS")
_FETCH_UID = re.compile(rb"\bUID (\d+)")
_FETCH_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
_HEADER_FETCH_BYTES = 64 * 1024  # of a message over max_bytes: enough to know whom to tell

#: Times the handling of one message may start without finishing (the process died on it)
#: before it is set aside unread.
MAX_TRIES = 3


class ImapServer(BaseModel):
    model_config = ConfigDict(frozen=True)

    host: str
    port: int = 993
    username: str
    password: SecretStr
    ssl: bool = True
    mailbox: str = "INBOX"
    timeout_s: float = 30
    idle_s: float = 25 * 60  # re-IDLE well before the server's 30-minute limit (RFC 2177)
    idle_check_s: float = 15  # how often the injected clock is read while in IDLE


class ImapFailed(Exception):
    """An IMAP command answered NO/BAD or something unreadable."""


class _Logged:
    """``Health`` for a listener run without a task registry: said once per episode."""

    def __init__(self) -> None:
        self._down = False

    def recovering(self, reason: str) -> None:
        if not self._down:
            self._down = True
            log.warning("imap: %s; recovering", reason)

    def recovered(self) -> None:
        if self._down:
            self._down = False
            log.warning("imap: recovered")


class MailListener:
    def __init__(
        self,
        *,
        imap: ImapServer,
        ports: ChannelPorts,
        rules: MailRules,
        clock: Callable[[], datetime],
        max_bytes: int = 256 * 1024,
        max_backoff_s: float = 60,
        notice_interval_s: float = 0,  # EMAIL_REFUSAL_NOTICE_S; 0: never tell anyone
    ) -> None:
        self._imap = imap
        self._state = ports.mail
        self._clock = clock
        self._max_bytes = max_bytes
        self._max_backoff_s = max_backoff_s
        self._intake = MailIntake(
            ports=ports,
            rules=rules,
            clock=clock,
            max_bytes=max_bytes,
            notice_interval_s=notice_interval_s,
        )
        self._news = False
        self.connected = asyncio.Event()  # set while a session is up (for tests and health)
        self._health: Health = _Logged()

    async def run(self, stop: asyncio.Event | None = None, *, health: Health | None = None) -> None:
        """Listen until ``stop``. A lost IMAP session (or Redis away while publishing) is
        reconnected with backoff, reported through ``health`` as recovering until a session
        is up again; anything else raises, for the task registry to record."""
        stop = stop or asyncio.Event()
        self._health = health or _Logged()
        backoff_s = 0.2
        while not stop.is_set():
            try:
                await self._session(stop)
                backoff_s = 0.2
            except (TimeoutError, OSError, aioimaplib.AioImapException, ImapFailed) as exc:
                self._health.recovering(f"IMAP {type(exc).__name__}: {exc}")
                log.info("imap: %s: %s; reconnecting in %.1f s", type(exc).__name__, exc, backoff_s)
            except StoreUnavailable as exc:
                cause = exc.__cause__ or exc  # Redis's own error, as the health line names it
                self._health.recovering(f"redis unavailable ({type(cause).__name__}: {cause})")
                log.info("imap: redis: %s; reconnecting in %.1f s", cause, backoff_s)
            finally:
                self.connected.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=backoff_s)
            backoff_s = min(backoff_s * 2, self._max_backoff_s)

    async def _call(self, awaitable: Awaitable[Any]) -> Any:
        response = await asyncio.wait_for(awaitable, self._imap.timeout_s)
        if any(_EXISTS.search(bytes(line)) for line in response.lines):
            self._news = True  # mail arrived while we were busy: look again before IDLE
        if response.result != "OK":
            raise ImapFailed(f"{response.result}: {response.lines[-1:]!r}")
        return response

    async def _session(self, stop: asyncio.Event) -> None:
        imap = self._imap
        lost = asyncio.Event()
        loop = asyncio.get_running_loop()
        client = aioimaplib.IMAP4(
            host=imap.host,
            port=imap.port,
            timeout=imap.timeout_s,
            conn_lost_cb=lambda _exc: loop.call_soon_threadsafe(lost.set),
            ssl_context=ssl.create_default_context() if imap.ssl else None,
        )
        self._notice_mail_during_commands(client)
        try:
            await asyncio.wait_for(client.wait_hello_from_server(), imap.timeout_s)
            await self._call(client.login(imap.username, imap.password.get_secret_value()))
            selected = await self._call(client.select(imap.mailbox))
            validity = next(
                (
                    m.group(1).decode()
                    for line in selected.lines
                    if (m := _UIDVALIDITY.search(bytes(line)))
                ),
                "",
            )
            self.connected.set()
            self._health.recovered()
            while not stop.is_set():
                self._news = True
                while self._news and not stop.is_set():
                    self._news = False
                    await self._catch_up(client, validity)
                await self._idle(client, stop, lost)
        finally:
            self.connected.clear()
            with contextlib.suppress(Exception):  # already gone: nothing to close politely
                await asyncio.wait_for(client.logout(), 2)

    def _notice_mail_during_commands(self, client: aioimaplib.IMAP4) -> None:
        """aioimaplib drops (logs) a ``* N EXISTS`` arriving during a FETCH, never repeated:
        such mail waited for the IDLE renewal (25 min). Untagged lines are looked at first."""
        protocol = client.protocol
        original = getattr(protocol, "_untagged_response", None)
        if original is None:  # another aioimaplib: news waits for the next IDLE renewal
            return

        def untagged(line: bytes) -> Any:
            if _EXISTS.search(line.replace(b"* ", b"", 1)):
                self._news = True
            return original(line)

        protocol._untagged_response = untagged

    async def _idle(
        self, client: aioimaplib.IMAP4, stop: asyncio.Event, lost: asyncio.Event
    ) -> None:
        """One IDLE: until new mail, ``stop``, a lost connection, or ``idle_s`` by the
        injected clock (then the caller issues IDLE again, as RFC 2177 asks)."""
        timeout_s = self._imap.timeout_s
        renew_at = self._clock() + timedelta(seconds=self._imap.idle_s)
        # aioimaplib's own timer (real time, a little later) is only a backstop.
        idle = await asyncio.wait_for(
            client.idle_start(timeout=self._imap.idle_s + self._imap.idle_check_s), timeout_s
        )
        stopping = asyncio.ensure_future(stop.wait())
        dropped = asyncio.ensure_future(lost.wait())
        try:
            while not stop.is_set() and self._clock() < renew_at:
                push = asyncio.ensure_future(client.wait_server_push(timeout=1e9))
                done, _ = await asyncio.wait(
                    {push, stopping, dropped},
                    timeout=self._imap.idle_check_s,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if push not in done:
                    push.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await push
                    if dropped in done:
                        raise ImapFailed("connection lost during IDLE")
                    continue  # stop, or time to look at the clock again
                lines = push.result()
                if lines == aioimaplib.STOP_WAIT_SERVER_PUSH:
                    break  # the backstop: re-issue IDLE
                if any(b"EXISTS" in bytes(x) for x in lines):
                    break
                if any(b"BYE" in bytes(x) for x in lines):
                    raise ImapFailed("server said BYE")
        finally:
            stopping.cancel()
            dropped.cancel()
        client.idle_done()
        await asyncio.wait_for(idle, timeout_s)

    async def _catch_up(self, client: aioimaplib.IMAP4, validity: str) -> None:
        mailbox = self._imap.mailbox
        mark = await self._state.mark(mailbox)
        fresh_start = mark is None or mark.validity != validity
        last_uid = 0 if mark is None or fresh_start else mark.last_uid
        if fresh_start:
            # A new mailbox, or its UIDs were renumbered: handle what nobody has read yet
            # (handled Message-IDs are deduplicated by the worker anyway); old UIDs' tries go.
            await self._state.start_over(mailbox, validity=validity)
        listed = await self._call(
            client.uid("fetch", f"{last_uid + 1}:*", "(UID RFC822.SIZE FLAGS)")
        )
        found: list[tuple[int, int]] = []
        for line in listed.lines:
            raw = bytes(line)
            uid_match, size_match = _FETCH_UID.search(raw), _FETCH_SIZE.search(raw)
            if b" FETCH " not in raw or uid_match is None or size_match is None:
                continue
            uid = int(uid_match.group(1))
            if uid <= last_uid:  # "n:*" always names the newest message, even if older
                continue
            if fresh_start and b"\\Seen" in raw:
                continue
            found.append((uid, int(size_match.group(1))))
        for uid, size in sorted(found):
            await self._handle(client, uid, size)
            await self._state.handled(mailbox, uid=uid)
        if found:
            self._news = True  # handling took time: check once more before IDLE

    async def _handle(self, client: aioimaplib.IMAP4, uid: int, size: int) -> None:
        """Handle one message, then flag it ``\\Seen`` (and ``\\Flagged`` if it was set
        aside). IMAP and Redis failures propagate (the session reconnects and the message
        is fetched again); nothing the message itself contains can make this raise."""
        mailbox = self._imap.mailbox
        ref = f"{mailbox} uid {uid}"
        tries = await self._state.begin_try(mailbox, uid=uid)
        if tries > MAX_TRIES:
            await self._intake.crashed(ref, tries=tries - 1)
            await self._mark(client, uid, flagged=True)
            return
        if size > self._max_bytes:
            part = f"BODY.PEEK[HEADER]<0.{_HEADER_FETCH_BYTES}>"
        else:
            part = "BODY.PEEK[]"
        try:
            fetched = await self._call(client.uid("fetch", str(uid), f"({part})"))
            raw = next((bytes(x) for x in fetched.lines if isinstance(x, bytearray)), b"")
            set_aside = await self._intake.take(raw, size_bytes=size, ref=ref)
        except StoreUnavailable:
            # Redis away is nobody's message's fault: take the try back if it answers
            # again so soon. (A failing fetch counts: a message IMAP cannot serve is one.)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._state.take_back_try(mailbox, uid=uid), 1)
            raise
        await self._mark(client, uid, flagged=set_aside)

    async def _mark(self, client: aioimaplib.IMAP4, uid: int, *, flagged: bool) -> None:
        flags = "(\\Seen \\Flagged)" if flagged else "(\\Seen)"
        await self._call(client.uid("store", str(uid), "+FLAGS.SILENT", flags))
        await self._state.end_tries(self._imap.mailbox, uid=uid)
