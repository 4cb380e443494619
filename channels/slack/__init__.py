"""The Slack channel: mentions, DMs, /deploy, approval buttons, replies in the same thread.

Inbound: ``SlackListeners`` (a Bolt app) behind ``slack_routes`` (HTTP) or ``SocketMode``.
Outbound: ``SlackSender``, run by the outbox's ``slack`` deliverer.
App Home (the ``home`` package): ``HomePublisher`` (on opening the Home tab),
``HomeRefresher`` (on change).
"""

from collections.abc import Callable
from datetime import datetime

from bot.core.config.config import Config
from bot.core.ports.channel_ports import ChannelPorts
from bot.core.ports.channel_state import SlackState
from bot.core.ports.home import HomePorts
from channels.slack.client import web_client
from channels.slack.home.publish import HomePublisher
from channels.slack.home.refresh import HomeRefresher
from channels.slack.listeners import SlackListeners
from channels.slack.pacing import ChannelPacer
from channels.slack.sender import SlackSender
from channels.slack.transport import SocketMode, slack_routes

__all__ = [
    "ChannelPacer",
    "HomePublisher",
    "HomeRefresher",
    "SlackListeners",
    "SlackSender",
    "SocketMode",
    "slack_home",
    "slack_listeners",
    "slack_routes",
    "slack_sender",
]


def slack_listeners(
    *,
    bot_token: str,
    signing_secret: str | None,
    api_url: str | None,
    ports: ChannelPorts,
    clock: Callable[[], datetime],
    home: HomePublisher | None = None,
) -> SlackListeners:
    return SlackListeners(
        client=web_client(bot_token, api_url=api_url),
        ports=ports,
        clock=clock,
        signing_secret=signing_secret,
        home=home,
    )


def slack_home(
    *,
    bot_token: str,
    api_url: str | None,
    ports: HomePorts,
    config: Config,
    clock: Callable[[], datetime],
) -> HomePublisher:
    """The App Home's publisher (``views.publish``) on the board and viewers ``ports``."""
    client = web_client(bot_token, api_url=api_url)
    return HomePublisher(client=client, ports=ports, config=config, clock=clock)


def slack_sender(
    *,
    bot_token: str,
    api_url: str | None,
    state: SlackState,
    config: Config,
    pacer: ChannelPacer | None = None,
) -> SlackSender:
    """``pacer``: Slack's pace per channel (default: one write a second after a burst of 3)."""
    slack_ids = {name: p.slack for name, p in config.people.items() if p.slack}
    return SlackSender(
        client=web_client(bot_token, api_url=api_url),
        state=state,
        slack_ids=slack_ids,
        pacer=pacer,
    )
