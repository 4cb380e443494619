"""A channel's own small state, kept for it by the shell in typed records (never raw keys).

Slack (``SlackState``) remembers where each of the bot's messages was posted (``Posted``:
the channel, its ``ts``, an approval card still open and the steps shown under it), so a
later message edits it in place; and which Slack threads the bot follows, and the bot thread
each belongs to, so plain replies there reach the bot. Email (``MailState``) remembers, per
mailbox, its UIDVALIDITY and the last UID handled (``MailboxMark``), how often the handling
of one message was started, and which copies of one outbound message were already sent.

Both are implemented in ``bot.shell.store.channel_state`` (``RedisSlackState``,
``RedisMailState``), which also decides how long each record is kept.
"""

from typing import Protocol

from pydantic import BaseModel, ConfigDict

from bot.core.ports.outbound import ApprovalCard

__all__ = ["MailState", "MailboxMark", "Posted", "SlackState"]


class Posted(BaseModel):
    """Where one of the bot's messages went in Slack. A message that replaces another gets a
    record pointing at the same ``ts``, so a chain (card -> "approved, deploying" ->
    progress -> result) edits one Slack message."""

    model_config = ConfigDict(frozen=True)

    channel: str
    ts: str
    card: ApprovalCard | None = None
    open: bool = False  # the card still has its buttons
    notes: list[str] = []  # steps since the decision, shown above the latest text

    def replaced_by(self, text: str) -> "Posted":
        """The record of a message that edits this one in place."""
        notes = [*self.notes, text] if self.open else list(self.notes)
        return self.model_copy(update={"open": False, "notes": notes[-5:]})


class SlackState(Protocol):
    async def posted(self, thread_id: str, message_id: str) -> Posted | None:
        """Where the message was posted; None if never (or its record is unreadable)."""
        ...

    async def remember_posted(self, thread_id: str, message_id: str, posted: Posted) -> None: ...

    async def owner(self, slack_thread: str) -> str | None:
        """The bot thread the Slack thread (by its derived id) belongs to, if followed."""
        ...

    async def follow(self, slack_thread: str, thread_id: str) -> None:
        """Follow the Slack thread for the bot thread (renews how long it is followed)."""
        ...


class MailboxMark(BaseModel):
    """How far the mail listener got in one mailbox."""

    model_config = ConfigDict(frozen=True)

    validity: str  # the mailbox's UIDVALIDITY: UIDs mean nothing under another one
    last_uid: int = 0


class MailState(Protocol):
    async def mark(self, mailbox: str) -> MailboxMark | None:
        """How far the listener got; None before the first message of any UIDVALIDITY."""
        ...

    async def start_over(self, mailbox: str, *, validity: str) -> None:
        """Forget the mailbox (its last UID, every try) and start at UID 0 of ``validity``."""
        ...

    async def handled(self, mailbox: str, *, uid: int) -> None:
        """Record ``uid`` as the last one handled."""
        ...

    async def begin_try(self, mailbox: str, *, uid: int) -> int:
        """Count one more start of the handling of ``uid``; how many so far."""
        ...

    async def take_back_try(self, mailbox: str, *, uid: int) -> None:
        """Undo one ``begin_try`` (the store was away: no fault of the message's)."""
        ...

    async def end_tries(self, mailbox: str, *, uid: int) -> None:
        """The handling of ``uid`` is over: forget its count."""
        ...

    async def sent_copies(self, thread_id: str, message_id: str) -> set[str]:
        """The copies (by ``Letter.key``) of one outbound message already sent."""
        ...

    async def copy_sent(self, thread_id: str, message_id: str, *, copy: str) -> None:
        """Record one copy as done with (delivered, or refused for good)."""
        ...
