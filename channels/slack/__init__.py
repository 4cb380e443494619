"""The Slack channel: mentions, DMs, /deploy, approval buttons, replies in the same thread.

Inbound: ``SlackListeners`` (a Bolt app) behind ``slack_routes`` (HTTP) or ``SocketMode``.
Outbound: ``SlackSender``, run by the outbox's ``slack`` deliverer.
"""

from collections.abc import Callable
from datetime import datetime

from redis.asyncio import Redis

from bot.core.config.config import Config
from bot.shell.store.keys import Keys
from bot.shell.streams.inbound import InboundQueue
from channels.slack.client import web_client
from channels.slack.follow import FollowedThreads
from channels.slack.listeners import SlackListeners
from channels.slack.pacing import ChannelPacer
from channels.slack.posted import PostedMessages
from channels.slack.sender import SlackSender
from channels.slack.transport import SocketMode, slack_routes

__all__ = [
    "ChannelPacer",
    "SlackListeners",
    "SlackSender",
    "SocketMode",
    "slack_listeners",
    "slack_routes",
    "slack_sender",
]


def slack_listeners(
    *,
    bot_token: str,
    signing_secret: str | None,
    api_url: str | None,
    queue: InboundQueue,
    redis: "Redis",
    keys: Keys,
    clock: Callable[[], datetime],
) -> SlackListeners:
    return SlackListeners(
        client=web_client(bot_token, api_url=api_url),
        queue=queue,
        redis=redis,
        keys=keys,
        clock=clock,
        signing_secret=signing_secret,
    )


def slack_sender(
    *,
    bot_token: str,
    api_url: str | None,
    redis: "Redis",
    keys: Keys,
    config: Config,
    pacer: ChannelPacer | None = None,
) -> SlackSender:
    """``pacer``: Slack's pace per channel (default: one write a second after a burst of 3)."""
    slack_ids = {name: p.slack for name, p in config.people.items() if p.slack}
    return SlackSender(
        client=web_client(bot_token, api_url=api_url),
        posted=PostedMessages(redis=redis, keys=keys),
        followed=FollowedThreads(redis=redis, keys=keys),
        slack_ids=slack_ids,
        pacer=pacer,
    )
