"""GitHub authentication: a token (``GITHUB_TOKEN``) or a GitHub App, and the App's
installation token, fetched with a short-lived JWT and cached until shortly before it
expires (``refresh_before_s``). Used by the client in bot/shell/github/client.py, which sends the
token-fetching request itself (with its own retries)."""

import asyncio
import time
from collections.abc import Awaitable, Callable

from gidgethub.apps import get_jwt
from pydantic import BaseModel, ConfigDict, SecretStr

from bot.shell.github.models import InstallationToken

__all__ = ["AppAuth", "PostAsApp", "TokenAuth", "Tokens"]


class TokenAuth(BaseModel):
    model_config = ConfigDict(frozen=True)
    token: SecretStr


class AppAuth(BaseModel):
    model_config = ConfigDict(frozen=True)
    app_id: int
    private_key: SecretStr
    installation_id: int
    refresh_before_s: float = 300  # fetch a new installation token this long before expiry


#: POST to ``url`` (a path of the API) authenticated as the App by ``jwt``; the answer's JSON.
PostAsApp = Callable[[str, str], Awaitable[object]]


class Tokens:
    """The token each request is sent with: the one given, or the App's installation token
    (one fetch at a time; cached until ``refresh_before_s`` before it expires)."""

    def __init__(
        self,
        auth: TokenAuth | AppAuth,
        *,
        post_as_app: PostAsApp,
        now_s: Callable[[], float] = time.time,
    ) -> None:
        self._auth = auth
        self._post_as_app = post_as_app
        self._now_s = now_s
        self._installation: InstallationToken | None = None
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        match self._auth:
            case TokenAuth(token=token):
                return token.get_secret_value()
            case AppAuth() as app:
                async with self._lock:
                    cached = self._installation
                    if cached is None or self._now_s() >= (
                        cached.expires_at.timestamp() - app.refresh_before_s
                    ):
                        cached = self._installation = await self._fetch_installation(app)
                    return cached.token.get_secret_value()

    async def _fetch_installation(self, app: AppAuth) -> InstallationToken:
        jwt = get_jwt(app_id=str(app.app_id), private_key=app.private_key.get_secret_value())
        url = f"/app/installations/{app.installation_id}/access_tokens"
        return InstallationToken.model_validate(await self._post_as_app(url, jwt))
