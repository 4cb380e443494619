"""The terminal channel behind ``deploybot chat``: talk to the bot as a named person.

Each line becomes a ``user_message`` in the inbound stream, exactly like a Slack mention or
an email would; the in-process worker handles it to completion (including any deploy it
starts), and the replies come back through this session's own outbox stream. ``/as NAME``
switches who is speaking, so a second person's approval can be tried locally.

Everything written goes through ``_write``: whatever the terminal would act on (escape
sequences, control, bidi and zero-width characters; ``bot.core.thread.text.outside.inert``) is
removed
first, so no text (a commit subject in a plan, deploy output, a model's answer) can move the
cursor, erase or hide a line, or draw over the plan being approved.
"""

from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Protocol, TextIO

from bot.core.config.config import Config
from bot.core.ports.channel_ports import ChannelPorts
from bot.core.ports.inbound import Envelope, agent_for
from bot.core.ports.outbound import OutboundMessage
from bot.core.thread.events import UserMessage
from bot.core.thread.origin import TerminalOrigin, outbox_channel
from bot.core.thread.text.actor import Actor, ActorError
from bot.core.thread.text.outside import inert

__all__ = ["TerminalChannel"]

_COMMANDS = "/as NAME (speak as someone else), /new (start a new thread), /thread, /quit"


class _Worker(Protocol):
    async def run_until_idle(self, *, reclaim: bool = True) -> int: ...


class TerminalChannel:
    def __init__(
        self,
        *,
        config: Config,
        ports: ChannelPorts,
        worker: _Worker,
        user: str,
        out: TextIO,
        clock: Callable[[], datetime],
        new_id: Callable[[], str],
        echo: bool,
    ) -> None:
        self._config = config
        self._ports = ports
        self._worker = worker
        self.user = user
        self._out = out
        self._clock = clock
        self._new_id = new_id
        self._echo = echo
        self.origin = TerminalOrigin(session=new_id())
        self.thread_id: str | None = None

    # -- Sender: the outbox hands replies here -------------------------------------------

    async def send(self, message: OutboundMessage) -> None:
        if message.purpose == "progress":
            return  # a terminal shows the result line; the start and progress add nothing
        first, *rest = inert(message.text, multiline=True).splitlines() or [""]
        self._write(f"bot> {first}", *(f"     {line}" for line in rest))

    def _write(self, *lines: str) -> None:
        """Lines as the terminal shows them: nothing in them is a control."""
        for line in lines:
            self._out.write(inert(line, multiline=True).replace("\n", " ") + "\n")
        self._out.flush()

    # -- the session ---------------------------------------------------------------------

    def _note(self, text: str) -> None:
        self._write(f"({text})")

    def whoami_warning(self) -> str | None:
        if self.user in self._config.people:
            return None
        return (
            f"{self.user} is not in the config's [people]: you can talk to the bot, but not "
            "request deploys or approve"
        )

    async def run(self, lines: Iterable[str] | Callable[[str], Awaitable[str | None]]) -> None:
        """Handle lines until they run out (EOF) or ``/quit``."""
        await self._ports.replies.ensure_group(outbox_channel(self.origin))
        if callable(lines):
            while (line := await lines(f"{self.user}> ")) is not None:
                if not await self.handle_line(line):
                    return
            return
        for line in lines:
            if self._echo:
                self._write(f"{self.user}> {line.rstrip()}")
            if not await self.handle_line(line):
                return

    async def handle_line(self, line: str) -> bool:
        text = line.strip()
        if not text:
            return True
        if text.startswith("/"):
            return await self._slash(text)
        await self._publish(text)
        await self._worker.run_until_idle()
        await self._flush_replies()
        return True

    async def _slash(self, text: str) -> bool:
        verb, _, arg = text.partition(" ")
        match verb:
            case "/quit" | "/exit":
                return False
            case "/as" if arg.strip():
                self.user = arg.strip().lower()
                if warning := self.whoami_warning():
                    self._note(warning)
            case "/new":
                self.thread_id = None
                self._note("the next message starts a new thread")
            case "/thread":
                self._note(f"thread {self.thread_id or '(none yet)'}")
            case _:
                self._note(f"commands: {_COMMANDS}")
        return True

    async def _publish(self, text: str) -> None:
        try:
            actor = Actor.of("terminal", self.user)  # parsed once, here at the edge
        except ActorError as exc:
            self._note(f"{exc}; nothing was sent (/as NAME says who you are)")
            return
        origin = None
        if self.thread_id is not None:
            thread = await self._ports.threads.load(self.thread_id)
            if thread is None or thread.status in ("done", "failed"):
                self.thread_id = None
        if self.thread_id is None:
            self.thread_id = self._new_id()
            origin = self.origin
        event = UserMessage(id=self._new_id(), at=self._clock(), actor=actor, text=text)
        await self._ports.inbound.publish(
            Envelope(thread_id=self.thread_id, event=event, origin=origin, agent=agent_for(text))
        )

    async def _flush_replies(self) -> None:
        channel = outbox_channel(self.origin)
        while await self._ports.replies.deliver_some(
            channel=channel, sender=self, consumer="terminal", block_ms=None
        ):
            pass
