"""Who the bot is in Slack (``auth.test``, asked once), as Bolt's ``authorize`` function.

Bolt's built-in single-workspace authorization answers 200 ("please install this app") when
``auth.test`` fails, which would acknowledge an event that was never stored. Here a failure
raises instead, so Bolt answers 500 and Slack retries the event later.
"""

import asyncio

from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.errors import DeploybotError

__all__ = ["BotIdentity", "SlackUnavailable"]


class SlackUnavailable(DeploybotError):
    """The Slack Web API could not tell who the bot is (down, or the token is wrong)."""


class BotIdentity:
    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client
        self._result: AuthorizeResult | None = None
        self._lock = asyncio.Lock()

    @property
    def bot_user_id(self) -> str | None:
        return self._result.bot_user_id if self._result is not None else None

    async def authorize(self) -> AuthorizeResult:
        """For ``AsyncApp(authorize=...)``: the bot token and ids, from a cached auth.test."""
        if self._result is not None:
            return self._result
        async with self._lock:
            if self._result is None:
                try:
                    response = await self._client.auth_test()
                except SlackApiError as exc:
                    raise SlackUnavailable(
                        f"auth.test failed: {exc.response.get('error')}"
                    ) from exc
                self._result = AuthorizeResult.from_auth_test_response(
                    auth_test_response=response, bot_token=self._client.token
                )
            return self._result
