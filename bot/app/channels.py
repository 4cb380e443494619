"""The wiring of the channels: each channel is built here from the settings and the app, and
given explicit arguments (never the settings object): its ports are the app's ``ports``
(built once by ``bootstrap``), its config the context's. Part of the one wiring place with
``bot.app.bootstrap``; the CLI only chooses which of these a process runs.
"""

import asyncio
import sys
from collections.abc import Callable
from datetime import datetime
from typing import TextIO

from starlette.routing import BaseRoute

from bot.app.bootstrap import App, new_id, utc_now
from bot.app.findings.preflight import findings
from bot.app.settings import Settings
from bot.core.config.config import Config
from bot.core.ports.channel_ports import ChannelPorts
from bot.core.ports.home import HomePorts
from bot.shell.home.board import BoardReader
from bot.shell.home.board_changes import OutboxWatch
from bot.shell.home.home_viewers import RedisHomeViewers
from bot.shell.store.guarded import guarded
from channels.api import api_routes
from channels.email import EmailSender, MailListener, build_email
from channels.email.listener import ImapServer
from channels.email.sender import SmtpServer
from channels.slack import (
    HomePublisher,
    HomeRefresher,
    SlackListeners,
    SocketMode,
    slack_home,
    slack_listeners,
    slack_routes,
    slack_sender,
)
from channels.terminal import TerminalChannel

__all__ = [
    "email_channel",
    "home_ports",
    "missing_email_settings",
    "slack_inbound",
    "socket_mode",
    "start_email",
    "start_slack_deliverer",
    "terminal_channel",
    "web_routes",
]


def missing_email_settings(settings: Settings) -> list[str]:
    """What the email channel still needs (empty: it is configured)."""
    wanted = {
        "REDIS_URL": settings.redis_url,
        "IMAP_HOST": settings.imap_host,
        "IMAP_USERNAME": settings.imap_username,
        "IMAP_PASSWORD": settings.imap_password,
        "SMTP_HOST": settings.smtp_host,
        "EMAIL_FROM": settings.email_from,
        "DEPLOYBOT_SECRET": settings.deploybot_secret,
    }
    return [name for name, value in wanted.items() if not value]


def email_channel(
    settings: Settings,
    *,
    config: Config,
    ports: ChannelPorts,
    clock: Callable[[], datetime],
) -> tuple[MailListener, EmailSender]:
    """The mail listener and sender from the settings; ``ValueError`` naming what is missing
    or unsafe (DMARC without our authserv-id, reply tokens signed with the webhook secret)."""
    refused = [f.text for f in findings(settings, config) if "mail" in f.refuses]
    if refused:
        raise ValueError("; ".join(refused))
    imap_host, imap_user, imap_password = (
        settings.imap_host,
        settings.imap_username,
        settings.imap_password,
    )
    smtp_host, email_from, secret = (
        settings.smtp_host,
        settings.email_from,
        settings.deploybot_secret,
    )
    if not (imap_host and imap_user and imap_password and smtp_host and email_from and secret):
        raise ValueError(f"email needs {', '.join(missing_email_settings(settings))}")
    return build_email(
        imap=ImapServer(
            host=imap_host,
            port=settings.imap_port,
            username=imap_user,
            password=imap_password,
            ssl=settings.imap_ssl,
        ),
        smtp=SmtpServer(
            host=smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
        ),
        from_address=email_from,
        secret=secret.get_secret_value().encode(),
        require_dmarc=settings.dmarc_required,
        authserv_ids=settings.email_authserv_ids,
        max_bytes=settings.email_max_bytes,
        notice_interval_s=settings.email_refusal_notice_s,
        config=config,
        ports=ports,
        clock=clock,
    )


def start_email(app: App, stop: asyncio.Event) -> None:
    """The mail listener and the email deliverer, as tasks of the app's registry."""
    listener, sender = email_channel(
        app.settings,
        config=app.context.config,
        ports=app.ports,
        clock=utc_now,
    )
    consumer = f"email-{app.worker.consumer}"
    app.tasks.spawn("imap", lambda h: listener.run(stop, health=h))
    app.tasks.spawn(
        "outbox:email",
        lambda h: app.context.outbox.run(
            channel="email", sender=sender, consumer=consumer, stop=stop, health=h
        ),
    )


def start_slack_deliverer(app: App, stop: asyncio.Event) -> None:
    """The Slack deliverer (with a bot token), as a task of the app's registry."""
    token = app.settings.slack_bot_token
    if token is None or not token.get_secret_value():
        return
    sender = slack_sender(
        bot_token=token.get_secret_value(),
        api_url=app.settings.slack_api_url,
        state=app.ports.slack,
        config=app.context.config,
    )
    consumer = f"slack-{app.worker.consumer}"
    app.tasks.spawn(
        "outbox:slack",
        lambda h: app.context.outbox.run(
            channel="slack", sender=sender, consumer=consumer, stop=stop, health=h
        ),
    )
    # Open App Homes follow the board; beside the deliverer, off the worker's turns.
    home = _home(app, bot_token=token.get_secret_value())
    refresher = HomeRefresher(publisher=home, changes=home.changes)
    app.tasks.spawn("slack:home", lambda h: refresher.run(stop, health=h))


def home_ports(app: App) -> HomePorts:
    """The App Home's ports on the app's stores (guarded, as the channels' ports are)."""
    context = app.context
    return HomePorts(
        board=guarded(BoardReader(context=context)),
        viewers=guarded(RedisHomeViewers(redis=app.redis, keys=context.keys)),
        changes=guarded(OutboxWatch(redis=app.redis, keys=context.keys)),
    )


def _home(app: App, *, bot_token: str) -> HomePublisher:
    return slack_home(
        bot_token=bot_token,
        api_url=app.settings.slack_api_url,
        ports=home_ports(app),
        config=app.context.config,
        clock=utc_now,
    )


def slack_inbound(app: App) -> SlackListeners | None:
    """Slack's inbound side, when a bot token is set (HTTP mode also needs the signing
    secret; Socket Mode the app token)."""
    settings = app.settings
    token, secret = settings.slack_bot_token, settings.slack_signing_secret
    if token is None or not token.get_secret_value():
        return None
    return slack_listeners(
        bot_token=token.get_secret_value(),
        signing_secret=secret.get_secret_value() if secret else None,
        api_url=settings.slack_api_url,
        ports=app.ports,
        clock=utc_now,
        home=_home(app, bot_token=token.get_secret_value()),
    )


def socket_mode(app: App, slack: SlackListeners | None) -> SocketMode | None:
    """Slack's Socket Mode connection, when an app token is set."""
    app_token = app.settings.slack_app_token
    if slack is None or app_token is None or not app_token.get_secret_value():
        return None
    return SocketMode(slack, app_token=app_token.get_secret_value())


def web_routes(app: App, slack: SlackListeners | None = None) -> list[BaseRoute]:
    """Every channel's HTTP routes, for whichever channels are configured."""
    settings = app.settings
    token = settings.deploybot_api_token
    # Webhooks are signed with their own secret (what CI holds); DEPLOYBOT_SECRET signs only
    # reply tokens and links, so a webhook sender can never mint an approval.
    secret = settings.deploybot_webhook_secret
    routes: list[BaseRoute] = list(
        api_routes(
            config=app.context.config,
            ports=app.ports,
            api_token=token.get_secret_value() if token else None,
            webhook_secret=secret.get_secret_value() if secret else None,
            clock=utc_now,
            new_id=new_id,
        )
    )
    signing = settings.slack_signing_secret
    if slack is not None and signing is not None and signing.get_secret_value().strip():
        routes += slack_routes(slack)  # never mounted without a secret to verify requests
    return routes


def terminal_channel(app: App, *, user: str, out: TextIO = sys.stdout) -> TerminalChannel:
    """The terminal channel of ``deploybot chat``, for ``user`` (a name from [people])."""
    return TerminalChannel(
        config=app.context.config,
        ports=app.ports,
        worker=app.worker,
        user=user.lower(),
        out=out,
        clock=utc_now,
        new_id=new_id,
        echo=not sys.stdin.isatty(),
    )
