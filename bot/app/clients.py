"""The outside clients the settings ask for, each built on its own: Redis (a blocking,
retried pool, or the embedded in-process store), GitHub (an App or a token) and Claude's
agents (or the commands-only fallback without a key). ``bootstrap`` wires them in; nothing
here connects until a command is sent.
"""

from collections.abc import Callable
from datetime import datetime

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from agents.fallback import CommandsOnlyAgent
from bot.app.settings import Settings
from bot.core.config.config import Config
from bot.core.errors import ConfigError
from bot.core.ports.agent import Agent
from bot.shell.github.auth import AppAuth, TokenAuth
from bot.shell.github.client import DEFAULT_API_URL, GithubClient
from bot.shell.github.timings import ApiTimings
from bot.shell.store.pool import quick_pool

__all__ = ["build_agents", "github_client", "redis_client"]


def redis_client(settings: Settings) -> tuple["Redis", bool]:
    if settings.redis_url:
        # Blocking: under a burst, callers wait up to 5 s for a connection instead of
        # failing once 100 are in use (redis-py's default pool raises).
        #
        # Retried once on a fresh connection after a connection error: after a Redis
        # restart, pooled connections are dead, and the first command on each would fail
        # (an API request answered 503) though Redis is back. One retry only: a Redis that
        # is really down fails fast. (A retried XADD whose reply was lost may append twice;
        # the worker drops the second copy by event id.)
        #
        # Quick when nobody waits for a connection, and a write quick when it cannot wait
        # (bot/shell/store/pool.py).
        pool = quick_pool(
            settings.redis_url,
            max_connections=100,
            timeout=5,
            health_check_interval=30,
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
            retry_on_error=[RedisConnectionError],
        )
        return Redis(connection_pool=pool), False
    import fakeredis  # embedded, in-process store for local use

    return fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer()), True


def github_client(settings: Settings, *, timeout_s: float = 10) -> GithubClient | None:
    """The GitHub client the settings ask for: a GitHub App when its three values are set,
    else ``GITHUB_TOKEN``; None when neither is. Half an App is a ConfigError naming what is
    missing."""
    app = {
        "GITHUB_APP_ID": settings.github_app_id,
        "GITHUB_APP_PRIVATE_KEY": settings.github_app_private_key,
        "GITHUB_APP_INSTALLATION_ID": settings.github_app_installation_id,
    }
    missing = [name for name, value in app.items() if value is None]
    base_url = str(settings.github_api_url) if settings.github_api_url else DEFAULT_API_URL
    auth: TokenAuth | AppAuth
    if len(missing) < len(app):
        if missing:
            raise ConfigError(f"a GitHub App also needs {', '.join(missing)}")
        assert settings.github_app_id is not None
        assert settings.github_app_private_key is not None
        assert settings.github_app_installation_id is not None
        auth = AppAuth(
            app_id=settings.github_app_id,
            private_key=settings.github_app_private_key,
            installation_id=settings.github_app_installation_id,
        )
    elif settings.github_token is not None:
        auth = TokenAuth(token=settings.github_token)
    else:
        return None
    return GithubClient(auth=auth, base_url=base_url, timings=ApiTimings(timeout_s=timeout_s))


def build_agents(
    settings: Settings, config: Config, *, clock: Callable[[], datetime]
) -> tuple[dict[str, Agent], bool]:
    key = settings.anthropic_api_key
    if key is None or not key.get_secret_value():
        return {
            "deploy": CommandsOnlyAgent(config=config, name="deploy"),
            "rollback": CommandsOnlyAgent(config=config, name="rollback"),
        }, False
    # Imported here: the SDK takes about a second to import, and only matters with a key.
    import anthropic

    from agents.deploy import DeployAgent
    from agents.planner import ClaudePlanner
    from agents.rollback import RollbackAgent

    client = anthropic.AsyncAnthropic(
        api_key=key.get_secret_value(),
        base_url=settings.anthropic_base_url,
        max_retries=2,
        timeout=60,
    )
    planner = ClaudePlanner(client=client, model=settings.anthropic_model)
    secrets = settings.secrets()
    return {
        "deploy": DeployAgent(planner=planner, config=config, secrets=secrets, clock=clock),
        "rollback": RollbackAgent(planner=planner, config=config, secrets=secrets, clock=clock),
    }, True
