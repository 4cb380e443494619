"""The Slack deliverer: the outbox hands it each reply of a Slack thread.

- ``to`` set (a refusal): ``chat.postEphemeral`` to that person only, in the thread.
- ``replaces`` naming a message posted earlier: ``chat.update`` of that message (an approval
  card loses its buttons and shows the decision; a deploy's message shows its progress, then
  its result). A ``replaces`` this deliverer never posted is posted as a new reply.
- otherwise ``chat.postMessage`` in the thread; an approval request as a Block Kit card.

Messages routed to a Slack channel (a schedule or webhook with ``report_to =
"slack:C0DEPLOYS"``, an approval request's copy in an environment's ``approval_channel``, a
refusal to someone who clicked there) open one Slack thread per bot thread in that channel
with their first message and continue in it; replies people write there reach the same bot
thread.

A message already recorded as posted is not posted again (a retry after a crash between
posting and the outbox's bookkeeping). Writes keep Slack's pace per channel (``pacing``:
about one a second after a short burst); progress edits of one message coalesce, only the
newest text goes out. Slack 429s are retried by the client after Retry-After; any other
failure raises, and the outbox retries later.
"""

import logging
from collections.abc import Mapping

from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.config.route import slack_channel
from bot.core.errors import Undeliverable
from bot.core.ports.channel_state import Posted, SlackState
from bot.core.ports.outbound import OutboundMessage
from bot.core.thread.origin import SlackOrigin, delivery_route
from bot.core.thread.text.actor import Actor
from channels.slack.blocks import approval_blocks, decided_blocks, escape
from channels.slack.identity import BotIdentity
from channels.slack.ids import thread_id_for
from channels.slack.pacing import ChannelPacer

__all__ = ["SlackSender"]

log = logging.getLogger("deploybot.slack")

_GONE = {"message_not_found", "cant_update_message", "edit_window_closed"}
# Errors no retry can mend: the message is set aside (and logged) instead.
_FOR_GOOD = {
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "invalid_blocks",
    "msg_too_long",
    "no_text",
}
_NOT_EPHEMERAL = {"user_not_in_channel", "user_not_found"}
_TEXT_MAX = 39_000


def _root(channel: str) -> str:
    """The record of the message that opened the bot thread's Slack thread in ``channel``."""
    return f"slack-root:{channel}"


def _slack_user(actor: Actor) -> str | None:
    return actor.id if actor.channel == "slack" else None


def _error(exc: SlackApiError) -> str:
    data = exc.response.data if exc.response is not None else None
    return str(data.get("error", "")) if isinstance(data, dict) else ""


class SlackSender:
    def __init__(
        self,
        *,
        client: AsyncWebClient,
        state: SlackState,
        slack_ids: Mapping[str, str],
        pacer: ChannelPacer | None = None,
    ) -> None:
        """``slack_ids``: person name -> Slack user id, to show people as mentions."""
        self.pacer = pacer or ChannelPacer()
        self._client = client
        self._state = state
        self._identity = BotIdentity(client)
        self._slack_ids = slack_ids

    async def _where(self, message: OutboundMessage) -> SlackOrigin | None:
        """The Slack thread a message goes to (``thread_ts`` "" : a new one, in ``channel``)."""
        route = delivery_route(message.origin, message.route)
        if route is None:
            return message.origin if isinstance(message.origin, SlackOrigin) else None
        channel = slack_channel(route)
        if channel is None:
            return None
        root = await self._state.posted(message.thread_id, _root(channel))
        return SlackOrigin(channel=channel, thread_ts=root.ts if root else "")

    async def send(self, message: OutboundMessage) -> None:
        try:
            await self._send(message)
        except SlackApiError as exc:
            if _error(exc) in _FOR_GOOD:
                raise Undeliverable(f"slack refused it: {_error(exc)}") from exc
            raise

    async def _send(self, message: OutboundMessage) -> None:
        origin = await self._where(message)
        if origin is None:
            log.error(
                "slack: message %s of thread %s (%s origin) has no Slack channel; not sent",
                message.message_id,
                message.thread_id,
                message.route or message.origin.kind,
            )
            return
        text = escape(message.text)[:_TEXT_MAX]
        user = _slack_user(message.to) if message.to else None
        if user is not None:
            try:
                async with self.pacer.turn(origin.channel):
                    await self._client.chat_postEphemeral(
                        channel=origin.channel,
                        user=user,
                        text=text,
                        thread_ts=origin.thread_ts or None,
                    )
                return
            except SlackApiError as exc:
                if _error(exc) not in _NOT_EPHEMERAL:
                    raise
                text = f"<@{user}> {text}"  # not in the channel: say it in the thread
        if await self._state.posted(message.thread_id, message.message_id) is not None:
            return  # posted before, the bookkeeping after it was lost
        if message.replaces is not None:
            earlier = await self._state.posted(message.thread_id, message.replaces)
            if earlier is not None and message.purpose == "progress":
                await self._progress(earlier, message, text)
                return
            if earlier is not None:
                self.pacer.forget(earlier.channel, earlier.ts)
                async with self.pacer.turn(earlier.channel):
                    if await self._edit(earlier, message, text):
                        return
        await self._post(origin, message, text)

    def _edited(
        self, earlier: Posted, message: OutboundMessage
    ) -> tuple[list[Block] | None, Posted]:
        """The blocks ``earlier`` shows once edited into ``message``, and its new record.

        An approval request replacing one (an escalation) redraws the card, with its buttons,
        for the widened group; anything else shows the card's decision and steps."""
        card = message.card if message.purpose == "approval_request" else None
        if card is not None:
            blocks = approval_blocks(
                card, thread_id=message.thread_id, slack_ids=self._slack_ids, evidence=card.evidence
            )
            return blocks, Posted(channel=earlier.channel, ts=earlier.ts, card=card, open=True)
        decided = (
            decided_blocks(
                earlier.card, slack_ids=self._slack_ids, notes=earlier.notes, text=message.text
            )
            if earlier.card is not None
            else None
        )
        return decided, earlier.replaced_by(message.text)

    async def _edit(self, earlier: Posted, message: OutboundMessage, text: str) -> bool:
        """Edit ``earlier`` into ``message``; False when Slack no longer has it."""
        blocks, now = self._edited(earlier, message)
        try:
            await self._client.chat_update(
                channel=earlier.channel, ts=earlier.ts, text=text, blocks=blocks
            )
        except SlackApiError as exc:
            if _error(exc) not in _GONE:
                raise
            log.info("slack: message %s is gone (%s); posting anew", earlier.ts, _error(exc))
            return False
        await self._state.remember_posted(message.thread_id, message.message_id, now)
        return True

    async def _progress(self, earlier: Posted, message: OutboundMessage, text: str) -> None:
        """A progress edit: recorded now (a later edit replacing it finds it), sent at the
        channel's next turn unless a newer edit of the same message comes first."""
        blocks, now = self._edited(earlier, message)
        await self._state.remember_posted(message.thread_id, message.message_id, now)

        async def update() -> None:
            await self._client.chat_update(
                channel=earlier.channel, ts=earlier.ts, text=text, blocks=blocks
            )

        await self.pacer.coalesce(earlier.channel, earlier.ts, update)

    async def _post(self, origin: SlackOrigin, message: OutboundMessage, text: str) -> None:
        card = message.card if message.purpose == "approval_request" else None
        blocks = (
            approval_blocks(
                card, thread_id=message.thread_id, slack_ids=self._slack_ids, evidence=card.evidence
            )
            if card is not None
            else None
        )
        async with self.pacer.turn(origin.channel):
            response = await self._client.chat_postMessage(
                channel=origin.channel,
                thread_ts=origin.thread_ts or None,
                text=text,
                blocks=blocks,
                unfurl_links=False,
                unfurl_media=False,
            )
        ts = response.get("ts")
        if not isinstance(ts, str):
            raise RuntimeError(f"chat.postMessage answered without a ts: {response.data!r}")
        posted = Posted(
            channel=str(response.get("channel") or origin.channel),
            ts=ts,
            card=card,
            open=card is not None,
        )
        await self._state.remember_posted(message.thread_id, message.message_id, posted)
        if not origin.thread_ts:  # the first report opened a Slack thread: follow it
            await self._state.remember_posted(
                message.thread_id, _root(origin.channel), posted.model_copy(update={"card": None})
            )
            team = (await self._identity.authorize()).team_id or ""
            await self._state.follow(
                thread_id_for(team, posted.channel, posted.ts), message.thread_id
            )
