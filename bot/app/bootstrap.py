"""The wiring: the one place that builds clients and connects bot/, agents/ and channels/.

Nothing connects at import time; ``bootstrap()`` is called by the entry points (and tests,
which pass their own clock, ids, agents or Redis).
"""

import asyncio
import os
import secrets as _secrets
import sys
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from agents.fallback import CommandsOnlyAgent
from bot.app.demo import default_data_dir, ensure_demo
from bot.app.settings import Settings
from bot.core.agent import Agent
from bot.core.config import Config, load_config
from bot.core.errors import ConfigError
from bot.shell.deployer import CommandDeployer
from bot.shell.deploywatch import DeployWatch
from bot.shell.environments import EnvironmentDesk
from bot.shell.envlock import EnvLock
from bot.shell.evidence import EvidenceGatherer
from bot.shell.execution import Executor
from bot.shell.github import DEFAULT_API_URL, GithubClient
from bot.shell.github_auth import AppAuth, TokenAuth
from bot.shell.history import DeployHistory
from bot.shell.inbound import InboundQueue
from bot.shell.keys import Keys
from bot.shell.lookups import Lookups
from bot.shell.metrics import Metrics
from bot.shell.outbox import Outbox
from bot.shell.pending import PendingApprovals
from bot.shell.quarantine import QuarantineList
from bot.shell.recheck import LiveCheck
from bot.shell.recovery import Recovery
from bot.shell.scheduler import Scheduler
from bot.shell.store import ThreadStore
from bot.shell.targets import Deployers
from bot.shell.tasks import TaskRegistry
from bot.shell.timers import Timers
from bot.shell.turn import Runner
from bot.shell.verification import Verification
from bot.shell.verifier import Verifier
from bot.shell.worker import Worker
from bot.shell.workflow import WorkflowDeployer

__all__ = [
    "App",
    "bootstrap",
    "config_path",
    "github_client",
    "new_id",
    "utc_now",
    "watch_children_with_pidfd",
]


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return _secrets.token_hex(6)


@dataclass
class App:
    settings: Settings
    config: Config
    config_file: Path
    redis: "Redis"
    embedded: bool
    model_enabled: bool
    keys: Keys
    store: ThreadStore
    queue: InboundQueue
    outbox: Outbox
    history: DeployHistory
    env_lock: EnvLock
    lookups: Lookups
    runner: Runner
    worker: Worker
    agents: Mapping[str, Agent]
    timers: Timers
    scheduler: Scheduler
    metrics: Metrics
    deployers: Deployers
    github: GithubClient | None
    #: This process's long-running tasks and their states (what /healthz reports).
    tasks: TaskRegistry = field(default_factory=TaskRegistry)

    async def close(self) -> None:
        if self.github is not None:
            await self.github.close()
        await self.redis.aclose()


def watch_children_with_pidfd() -> None:
    """On Python 3.11 asyncio starts a thread per subprocess to wait for it; a pidfd watcher
    (the default from 3.12 on) waits in the event loop instead: cheaper for every deploy.

    Process-wide: call it once, from inside the one event loop of a long-running command.
    """
    if sys.version_info >= (3, 12) or not hasattr(asyncio, "PidfdChildWatcher"):
        return
    try:
        os.close(os.pidfd_open(os.getpid()))
    except (AttributeError, OSError):
        return  # no pidfd on this kernel: keep the default
    watcher = asyncio.PidfdChildWatcher()
    watcher.attach_loop(asyncio.get_running_loop())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        asyncio.set_child_watcher(watcher)


def config_path(settings: Settings) -> Path:
    """The config file: ``DEPLOYBOT_CONFIG``, else the demo set-up made on first use."""
    if settings.deploybot_config is not None:
        return settings.deploybot_config
    return ensure_demo(data_dir=default_data_dir())


def _redis(settings: Settings) -> tuple["Redis", bool]:
    if settings.redis_url:
        # Blocking: under a burst, callers wait up to 5 s for a connection instead of
        # failing once 100 are in use (redis-py's default pool raises).
        #
        # Retried once on a fresh connection after a connection error: after a Redis
        # restart, pooled connections are dead, and the first command on each would fail
        # (an API request answered 503) though Redis is back. One retry only: a Redis that
        # is really down fails fast. (A retried XADD whose reply was lost may append twice;
        # the worker drops the second copy by event id.)
        pool = BlockingConnectionPool.from_url(
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
    return GithubClient(auth=auth, base_url=base_url, timeout_s=timeout_s)


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


def bootstrap(
    settings: Settings,
    *,
    config_file: Path | None = None,
    consumer: str | None = None,
    clock: Callable[[], datetime] = utc_now,
    ids: Callable[[], str] = new_id,
    agents: Mapping[str, Agent] | None = None,
    redis: "Redis | None" = None,
    concurrency: int = 32,
    lock_wait_s: float | None = None,
    progress_every_s: float = 5,
) -> App:
    path = config_file or config_path(settings)
    config = load_config(path)
    if redis is None:
        redis, embedded = _redis(settings)
    else:
        embedded = False
    keys = Keys(settings.deploybot_key_prefix)
    if agents is None:
        agents, model_enabled = build_agents(settings, config, clock=clock)
    else:
        model_enabled = True
    store = ThreadStore(redis=redis, keys=keys)
    queue = InboundQueue(redis=redis, keys=keys)
    outbox = Outbox(redis=redis, keys=keys)
    history = DeployHistory(redis=redis, keys=keys)
    env_lock = EnvLock(redis=redis, keys=keys)
    timers = Timers(redis=redis, keys=keys, queue=queue)
    metrics = Metrics(redis=redis, keys=keys)
    scheduler = Scheduler(redis=redis, keys=keys, queue=queue, config=config, clock=clock)
    lookups = Lookups(
        redis=redis,
        keys=keys,
        config=config,
        history=history,
        tags_cache_s=settings.deploybot_tags_cache_s,
    )
    pending = PendingApprovals(redis=redis, keys=keys, queue=queue)
    github = github_client(settings)
    deployer = Deployers(
        config=config,
        commands=CommandDeployer(config=config, secrets=settings.secrets()),
        workflows=(
            WorkflowDeployer(
                config=config,
                client=github,
                secrets=settings.secrets(),
                poll_s=settings.deploybot_github_poll_s,
            )
            if github is not None
            else None
        ),
    )
    quarantine = QuarantineList(redis=redis, keys=keys)
    desk = EnvironmentDesk(
        config=config,
        env_lock=env_lock,
        lookups=lookups,
        quarantine=quarantine,
        clock=clock,
        new_id=ids,
    )
    executor = Executor(
        config=config,
        store=store,
        keys=keys,
        env_lock=env_lock,
        history=history,
        lookups=lookups,
        outbox=outbox,
        pending=pending,
        desk=desk,
        watch=DeployWatch(
            deployer=deployer,
            env_lock=env_lock,
            outbox=outbox,
            new_id=ids,
            lock_ttl_ms=settings.deploybot_lock_ttl_ms,
            progress_every_s=progress_every_s,
        ),
        recheck=LiveCheck(
            history=history, lookups=lookups, quarantine=quarantine, clock=clock, new_id=ids
        ),
        quarantine=quarantine,
        clock=clock,
        new_id=ids,
        lock_ttl_ms=settings.deploybot_lock_ttl_ms,
        lock_wait_s=settings.deploybot_lock_wait_s if lock_wait_s is None else lock_wait_s,
        replicas=settings.deploybot_redis_replicas,
        replicas_timeout_ms=settings.deploybot_redis_wait_ms,
    )
    runner = Runner(
        config=config,
        agents=agents,
        lookups=lookups,
        executor=executor,
        recovery=Recovery(
            history=history,
            env_lock=env_lock,
            deployer=deployer,
            executor=executor,
            clock=clock,
            new_id=ids,
        ),
        desk=desk,
        verification=Verification(
            config=config,
            verifier=Verifier(
                config=config,
                secrets=settings.secrets(),
                interval_s=settings.deploybot_verify_interval_s,
            ),
            store=store,
            outbox=outbox,
            quarantine=quarantine,
            clock=clock,
            new_id=ids,
        ),
        quarantine=quarantine,
        evidence=EvidenceGatherer(
            config=config,
            github=github,
            api_url=str(settings.github_api_url) if settings.github_api_url else None,
        ),
        clock=clock,
        new_id=ids,
        model_calls_per_message=settings.deploybot_model_calls_per_message,
    )
    worker = Worker(
        queue=queue,
        store=store,
        runner=runner,
        outbox=outbox,
        consumer=consumer or f"worker-{ids()}",
        clock=clock,
        new_id=ids,
        concurrency=concurrency,
        lease_ttl_ms=settings.deploybot_lease_ttl_ms,
        timers=timers,
        metrics=metrics,
        pending=pending,
    )
    return App(
        settings=settings,
        config=config,
        config_file=path,
        redis=redis,
        embedded=embedded,
        model_enabled=model_enabled,
        keys=keys,
        store=store,
        queue=queue,
        outbox=outbox,
        history=history,
        env_lock=env_lock,
        lookups=lookups,
        runner=runner,
        worker=worker,
        agents=agents,
        timers=timers,
        scheduler=scheduler,
        metrics=metrics,
        deployers=deployer,
        github=github,
    )
