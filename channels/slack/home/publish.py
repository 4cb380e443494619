"""Publishing the App Home (``views.publish``): when a person opens it, and when it changes.

``opened``: an ``app_home_opened`` of the Home tab. The person is remembered (a refresh
republishes to those who opened it lately), then their view is published unless it is the
one they were shown last. Someone not in ``[people]`` gets a short home saying so.
``refresh``: one round: the board read once, each recent viewer's view rendered, published to
those whose view changed (``HomeViewers.claim``: once, whichever process refreshes).

views.publish is Tier 4 (100 and more a minute per workspace): publishes keep a pace of
their own (``ChannelPacer`` on one key: a burst of 10, then one each 0.7 s), and a 429 is
not waited out inline: the round stops, what it had not published is taken back, and
``retry_after_s`` says when to try again (the refresher waits; a person who just opened the
tab gets their view then, from a task of its own, while Slack has its answer at once).
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.config.config import Config
from bot.core.ports.board import Board
from bot.core.ports.home import HomePorts
from bot.core.thread.text.actor import Actor, ActorError
from channels.slack.containment import Containment, payload_ref
from channels.slack.home.view import fingerprint, home_view, stranger_view
from channels.slack.pacing import ChannelPacer

__all__ = ["HomeOpened", "HomePublisher", "RateLimited", "home_listener", "home_opened"]

log = logging.getLogger("deploybot.slack")

#: Who a refresh republishes to: people who opened the Home tab this recently.
VIEWERS_WITHIN = timedelta(hours=1)
_PACE_KEY = "views.publish"
_MAX_WAIT_S = 300.0


@dataclass(frozen=True)
class HomeOpened:
    user: str


def home_opened(body: Mapping[str, object]) -> HomeOpened | None:
    """The person an ``app_home_opened`` event is about; None for another tab (Messages,
    About) or a payload without a user id."""
    event = body.get("event")
    if not isinstance(event, Mapping) or event.get("type") != "app_home_opened":
        return None
    user, tab = event.get("user"), event.get("tab")
    if not isinstance(user, str) or tab != "home":
        return None
    try:
        Actor.of("slack", user)
    except ActorError:
        return None
    return HomeOpened(user=user)


def home_listener(
    home: "HomePublisher | None", contained: Containment
) -> Callable[[dict[str, Any]], Awaitable[None]]:
    """The Bolt listener of ``app_home_opened``: publishes the person's home (acknowledged
    and left as it is without ``home``); what raises is set aside like any payload's."""

    async def on_home(body: dict[str, Any]) -> None:
        ref = payload_ref(body)
        opened = await contained.parse(lambda: home_opened(body), ref=ref)
        if opened is not None and home is not None:
            await contained.run(home.opened(opened.user), ref=ref)

    return on_home


class RateLimited(Exception):
    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"views.publish rate-limited for {retry_after_s:.0f} s")
        self.retry_after_s = retry_after_s


def _retry_after_s(exc: SlackApiError) -> float | None:
    """Slack's Retry-After when ``exc`` is a 429 (1 s when it does not say), else None."""
    response = exc.response
    if response is None or response.status_code != 429:
        return None
    for name, value in (response.headers or {}).items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list | tuple) else value
            with contextlib.suppress(TypeError, ValueError):
                return min(max(float(raw), 1.0), _MAX_WAIT_S)
    return 1.0


class HomePublisher:
    def __init__(
        self,
        *,
        client: AsyncWebClient,
        ports: HomePorts,
        config: Config,
        clock: Callable[[], datetime],
        pacer: ChannelPacer | None = None,
    ) -> None:
        # Its own client, without slack_sdk's 429 retries: a rate limit is waited out by the
        # refresher (or a task), never inside a request Slack waits for.
        self._client = AsyncWebClient(
            token=client.token, base_url=client.base_url, timeout=client.timeout
        )
        self._board = ports.board
        self._viewers = ports.viewers
        self.changes = ports.changes  # what a refresher waits on
        self._config = config
        self._clock = clock
        self._pacer = pacer or ChannelPacer(interval_s=0.7, burst=10)
        self._slack_ids = {n: p.slack for n, p in config.people.items() if p.slack}
        self._later: set[asyncio.Task[None]] = set()

    def _known(self, user: str) -> bool:
        return self._config.person_for(Actor.of("slack", user)) is not None

    def view_for(self, board: Board, user: str) -> View:
        """``user``'s home: the board as they may act on it, or the stranger's."""
        if not self._known(user):
            return stranger_view(viewer=user)
        return home_view(board, viewer=user, config=self._config, slack_ids=self._slack_ids)

    async def opened(self, user: str) -> None:
        """Someone opened their Home tab: remember them, show them the board (a stranger
        is told why there is nothing to show, and not remembered)."""
        if self._known(user):
            await self._viewers.opened(user, at=self._clock())
            view = self.view_for(await self._board.read(), user)
        else:
            view = stranger_view(viewer=user)
        try:
            await self._publish(user, view)
        except RateLimited as limited:
            self._retry_later(user, limited.retry_after_s)

    async def refresh(self) -> int:
        """One round: republish to each recent viewer whose view changed; how many were
        published. ``RateLimited`` when Slack said to wait (the rest is left for then)."""
        users = await self._viewers.recent(since=self._clock() - VIEWERS_WITHIN)
        if not users:
            return 0
        board = await self._board.read()
        published = 0
        for user in users:
            if await self._publish(user, self.view_for(board, user)):
                published += 1
        return published

    async def _publish(self, user: str, view: View) -> bool:
        """Publish ``view`` unless ``user`` was shown it last; True when published."""
        shown = fingerprint(view)
        if not await self._viewers.claim(user, fingerprint=shown):
            return False
        try:
            async with self._pacer.turn(_PACE_KEY):
                await self._client.views_publish(user_id=user, view=view)
        except SlackApiError as exc:
            await self._viewers.unclaim(user, fingerprint=shown)
            if (wait_s := _retry_after_s(exc)) is not None:
                raise RateLimited(wait_s) from exc
            log.warning("slack: views.publish for %s failed: %s", user, exc.response.get("error"))
            return False
        except BaseException:
            await self._viewers.unclaim(user, fingerprint=shown)
            raise
        return True

    def _retry_later(self, user: str, wait_s: float) -> None:
        log.info("slack: views.publish rate-limited; %s's home in %.0f s", user, wait_s)

        async def later() -> None:
            await asyncio.sleep(wait_s)
            try:
                board = await self._board.read()
                await self._publish(user, self.view_for(board, user))
            except RateLimited:
                log.warning("slack: views.publish still rate-limited; %s's home waits", user)
            except Exception:  # a home is not worth a crash: the next refresh tries again
                log.exception("slack: publishing %s's home failed", user)

        task = asyncio.create_task(later())
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    async def close(self) -> None:
        """Cancel the publishes still waiting out a rate limit."""
        for task in list(self._later):
            task.cancel()
        await asyncio.gather(*self._later, return_exceptions=True)
