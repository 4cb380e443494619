"""The inbound side of Slack: a Bolt ``AsyncApp`` whose listeners turn payloads into events.

Mentions, DMs, replies in a Slack thread the bot follows and ``/deploy`` become
``UserMessage`` events in the inbound stream; Approve clicks and reject-reason modals become
``DecisionReceived`` events carrying the plan hash from the button, as data. Bolt runs with
``process_before_response=True``, so Slack gets its 200 only after the event is in the
stream; if Redis (or Slack's ``auth.test``) fails, Slack gets a 500 and retries. A payload
that makes a parser or a step raise is set aside and acknowledged (``containment``). Opening
the Home tab publishes the person's App Home (``home.publish``): its buttons are the card's.
"""

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.errors import ConfigError
from bot.core.ports.channel_ports import ChannelPorts
from bot.core.ports.inbound import Envelope, agent_for
from bot.core.thread.events import DecisionReceived, UserMessage
from channels.slack.blocks import escape, reject_modal
from channels.slack.containment import Containment, payload_ref
from channels.slack.home.publish import HomePublisher, home_listener
from channels.slack.identity import BotIdentity
from channels.slack.ids import APPROVE_ACTION, REASON_BLOCK, REJECT_ACTION, REJECT_VIEW
from channels.slack.payloads import (
    Decision,
    OpenRejectModal,
    Request,
    Skip,
    action_request,
    command_request,
    event_request,
    view_request,
)

__all__ = ["SlackListeners"]

log = logging.getLogger("deploybot.slack")

_MAX_PUBLISHING = 32  # a burst waits here rather than exhaust the Redis connection pool
_USAGE = "Usage: `/deploy backend v1.4.2 to production` (or `/deploy help`)."


class _NoTokenWarning(logging.Filter):
    """Bolt warns that SLACK_BOT_TOKEN (read from the environment) is unused next to our
    client; it is used, through ``authorize``."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


class _NoRequestDetails(logging.Filter):
    """Bolt and slack_sdk put whole request bodies (and signatures) in some log lines (an
    invalid signature at INFO, an unhandled request at WARNING, requests at DEBUG). Such a
    line keeps only its first words; bodies, signatures and tokens never reach a handler."""

    _TELLS = ("body", "signature", "payload", "headers", "token", "{", "xox")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(tell in message.lower() for tell in self._TELLS) or len(message) > 300:
            cut = min((i for i in (message.find(c) for c in "({:") if i >= 0), default=60)
            record.msg = "%s (request details withheld)"
            record.args = (message[: min(cut, 60)].strip(),)
        return True


_QUIET_LOGGERS = ("slack_bolt", "slack_sdk", "deploybot.slack.bolt")


def quiet_slack_loggers() -> None:
    """Bolt's and slack_sdk's loggers at WARNING at least, each with ``_NoRequestDetails``
    (filters do not inherit: every logger that logs requests gets its own)."""
    details = _NoRequestDetails()
    names = [
        *_QUIET_LOGGERS,
        *(
            name
            for name in list(logging.root.manager.loggerDict)
            if name.startswith(("slack_bolt.", "slack_sdk."))
        ),
    ]
    for name in names:
        logger = logging.getLogger(name)
        if name in _QUIET_LOGGERS and logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)
        if not any(isinstance(f, _NoRequestDetails) for f in logger.filters):
            logger.addFilter(details)


def _skipped(skip: Skip | None) -> None:
    if skip is None:
        return  # set aside, and said so, by Containment
    if skip.malformed:
        log.warning("slack: ignored a malformed payload: %s", skip.reason)
    else:
        log.debug("slack: ignored: %s", skip.reason)


class SlackListeners:
    def __init__(
        self,
        *,
        client: AsyncWebClient,
        ports: ChannelPorts,
        clock: Callable[[], datetime],
        signing_secret: str | None,
        command: str = "/deploy",
        home: HomePublisher | None = None,
    ) -> None:
        """``signing_secret`` None: Socket Mode only (requests are not signed there, and
        ``slack_routes`` refuses to serve these listeners over HTTP). An empty secret is a
        ``ConfigError``: it would verify nothing. ``home`` None: the Home tab is left as is."""
        if signing_secret is not None and not signing_secret.strip():
            raise ConfigError(
                "SLACK_SIGNING_SECRET is empty: an empty secret verifies nothing. Set the "
                "app's signing secret, or leave it unset and use Socket Mode (SLACK_APP_TOKEN)."
            )
        self.signing_secret = signing_secret
        self._client = client
        self._inbound = ports.inbound
        self._state = ports.slack
        self._clock = clock
        self.home = home
        self.contained = Containment(set_aside=ports.set_aside, clock=clock)
        self.identity = BotIdentity(client)
        self._publishing = asyncio.Semaphore(_MAX_PUBLISHING)
        bolt_log = logging.getLogger("deploybot.slack.bolt")
        if not any(isinstance(f, _NoTokenWarning) for f in bolt_log.filters):
            bolt_log.addFilter(_NoTokenWarning())
        quiet_slack_loggers()
        self.bolt = AsyncApp(
            # The app's own client carries no token: each request gets the one authorize()
            # returns, and Bolt does not call auth.test on its own.
            client=AsyncWebClient(
                base_url=client.base_url, retry_handlers=list(client.retry_handlers)
            ),
            # Bolt verifies every HTTP request too; Socket Mode requests skip it. Without a
            # secret, a random one: nothing signed by anyone verifies.
            signing_secret=signing_secret or secrets.token_hex(32),
            request_verification_enabled=True,
            authorize=self._authorize_function(),
            process_before_response=True,
            logger=bolt_log,
        )
        self._register(command)

    def _authorize_function(self) -> Callable[..., Any]:
        identity = self.identity

        async def authorize() -> Any:
            return await identity.authorize()

        return authorize

    # -- publishing ----------------------------------------------------------------------

    async def publish(self, request: Request) -> bool:
        """Put the request in the inbound stream; False if it is not for the bot."""
        event = UserMessage(
            id=request.event_id, at=self._clock(), actor=request.actor, text=request.text
        )
        async with self._publishing:
            thread_id = request.thread_id
            if request.in_thread:
                owner = await self._state.owner(request.thread_id)
                if owner is None and request.follow_up:
                    log.debug("slack: %s: a thread the bot does not follow", request.event_id)
                    return False
                thread_id = owner or thread_id
            if request.origin is not None:
                await self._state.follow(request.thread_id, thread_id)
            envelope = Envelope(
                thread_id=thread_id,
                event=event,
                origin=request.origin,
                agent=agent_for(request.text),
            )
            await self._inbound.publish(envelope)
        log.debug("slack: %s -> thread %s", request.event_id, thread_id)
        return True

    async def decide(self, decision: Decision) -> None:
        """Put a decision in the inbound stream, for the thread its button or form named."""
        event = DecisionReceived(
            id=decision.event_id,
            at=self._clock(),
            actor=decision.actor,
            decision=decision.decision,
            plan_hash=decision.plan_hash,
            reason=decision.reason,
        )
        async with self._publishing:
            await self._inbound.publish(Envelope(thread_id=decision.thread_id, event=event))
        log.debug("slack: %s -> thread %s", decision.event_id, decision.thread_id)

    # -- listeners -----------------------------------------------------------------------

    def _register(self, command: str) -> None:
        app = self.bolt

        contained = self.contained

        async def on_event(body: dict[str, Any], context: AsyncBoltContext) -> None:
            ref = payload_ref(body)
            bot_user_id = context.bot_user_id
            parsed = await contained.parse(
                lambda: event_request(body, bot_user_id=bot_user_id), ref=ref
            )
            if parsed is None or isinstance(parsed, Skip):
                _skipped(parsed)
                return
            await contained.run(self.publish(parsed), ref=ref)

        async def on_action(ack: AsyncAck, body: dict[str, Any]) -> None:
            ref = payload_ref(body)
            parsed = await contained.parse(lambda: action_request(body), ref=ref)
            if parsed is None or isinstance(parsed, Skip):
                _skipped(parsed)
            elif isinstance(parsed, OpenRejectModal):
                await contained.run(self._open_reject_modal(parsed, body), ref=ref)
            else:
                await contained.run(self.decide(parsed), ref=ref)
            await ack()

        async def on_view(ack: AsyncAck, body: dict[str, Any]) -> None:
            ref = payload_ref(body)
            parsed = await contained.parse(lambda: view_request(body), ref=ref)
            if isinstance(parsed, Skip) and parsed.kind == "needs_reason":
                await ack(response_action="errors", errors={REASON_BLOCK: parsed.reason})
                return
            if parsed is None or isinstance(parsed, Skip):
                _skipped(parsed)
            else:
                await contained.run(self.decide(parsed), ref=ref)
            await ack()

        async def on_command(ack: AsyncAck, body: dict[str, Any]) -> None:
            answer = await contained.run(self._slash_command(body), ref=payload_ref(body))
            await ack(answer if answer is not None else "Sorry, I could not handle that.")

        app.event("app_mention")(on_event)
        app.event("message")(on_event)
        app.event("app_home_opened")(home_listener(self.home, contained))
        app.action(APPROVE_ACTION)(on_action)
        app.action(REJECT_ACTION)(on_action)
        app.view(REJECT_VIEW)(on_view)
        app.command(command)(on_command)

    async def _slash_command(self, body: dict[str, Any]) -> str:
        """Post the command as a root message, start a thread under it; the ack's text."""
        parsed = command_request(body)
        if isinstance(parsed, Skip):
            _skipped(parsed)
            return "Sorry, I could not read that command."
        if not parsed.said:
            return _USAGE
        try:
            root = await self._client.chat_postMessage(
                channel=parsed.channel, text=f"<@{parsed.user}> asked: {escape(parsed.text)}"
            )
        except SlackApiError as exc:
            log.warning("slack: cannot post in %s: %s", parsed.channel, exc.response.get("error"))
            return (
                "I can't post in this conversation. Invite me to the channel "
                "(`/invite @deploybot`) and try again, or mention me there."
            )
        ts = root.get("ts")
        if not isinstance(ts, str):
            raise RuntimeError("chat.postMessage answered without a ts")
        await self.publish(parsed.request(ts))
        return ""

    async def _open_reject_modal(self, modal: OpenRejectModal, body: dict[str, Any]) -> None:
        view = reject_modal(thread_id=modal.thread_id, plan_hash=modal.plan_hash)
        try:
            await self._client.views_open(trigger_id=modal.trigger_id, view=view)
        except SlackApiError as exc:
            log.warning("slack: views.open failed: %s", exc.response.get("error"))
            channel = (body.get("channel") or {}).get("id")
            thread_ts = (body.get("message") or {}).get("thread_ts")
            if isinstance(channel, str):
                with contextlib.suppress(SlackApiError):
                    await self._client.chat_postEphemeral(
                        channel=channel,
                        user=modal.user,
                        thread_ts=thread_ts if isinstance(thread_ts, str) else None,
                        text=(
                            "I couldn't open the reject form; reply `reject &lt;reason&gt;` "
                            "instead."
                        ),
                    )
