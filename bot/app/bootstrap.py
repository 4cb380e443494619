"""The wiring: the one place that builds clients and connects bot/, agents/ and channels/.

Nothing connects at import time; ``bootstrap()`` is called by the entry points (and tests,
which pass their own clock, ids, agents or Redis).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from redis.asyncio import Redis

from bot.app.clients import build_agents, github_client, redis_client
from bot.app.config_file import load_config
from bot.app.demo import default_data_dir, ensure_demo
from bot.app.settings import Settings
from bot.core.ports.agent import Agent
from bot.core.ports.channel_ports import ChannelPorts
from bot.shell.deploy.execution import Executor
from bot.shell.deploy.interruption import Interruptions
from bot.shell.deploy.prior_runs import PriorRuns
from bot.shell.deploy.recheck import LiveCheck
from bot.shell.deploy.recovery import Recovery
from bot.shell.deploy.targets import Deployers
from bot.shell.deploy.watch import DeployWatch
from bot.shell.github.client import GithubClient
from bot.shell.github.timings import WorkflowTimings
from bot.shell.github.workflow_deployer import WorkflowDeployer
from bot.shell.lock.dataloss import DataLossGuard
from bot.shell.lock.lease import EnvLock
from bot.shell.loop.scheduler import Scheduler
from bot.shell.loop.timers import Timers
from bot.shell.loop.turn import Runner, StepHandlers
from bot.shell.loop.worker import Worker
from bot.shell.process.command_deployer import CommandDeployer
from bot.shell.process.forkserver import SupervisorServer, default_server
from bot.shell.runtime.clock import Clock, utc_now
from bot.shell.runtime.clock import random_id as new_id
from bot.shell.runtime.metrics import Metrics
from bot.shell.runtime.tasks import TaskRegistry
from bot.shell.store.keys import Keys
from bot.shell.store.threads import ThreadStore
from bot.shell.streams.channel_ports import channel_ports
from bot.shell.streams.inbound import InboundQueue
from bot.shell.streams.outbox import Outbox
from bot.shell.verify.after_deploy import Verification
from bot.shell.verify.checks import Verifier
from bot.shell.verify.timings import VerifyTimings
from bot.shell.world.context import Context, Limits
from bot.shell.world.environments import EnvironmentDesk
from bot.shell.world.evidence import EvidenceGatherer
from bot.shell.world.history import DeployHistory
from bot.shell.world.lookups import Lookups
from bot.shell.world.pending import PendingApprovals
from bot.shell.world.quarantine import QuarantineList
from bot.shell.world.queue import PairQueue
from bot.shell.world.soak import SoakMarks

__all__ = [
    "App",
    "bootstrap",
    "config_path",
    "new_id",
    "utc_now",
]


@dataclass(kw_only=True)
class App:
    """What the entry points run: the shell's one ``Context`` (config, clock, limits and
    every store, bot/shell/world/context.py), the channels' ``ports`` (built once, on the same
    stores), the loop's parts and the clients to close."""

    settings: Settings
    redis: "Redis"
    #: Redis runs in this process (no DEPLOYBOT_REDIS_URL): it dies with it.
    embedded: bool
    #: The agents call a model (an API key is set), not the rule-based stand-ins.
    model_enabled: bool
    #: The shell's shared dependencies (bot/shell/world/context.py), built once here.
    context: Context
    #: Every port a channel reaches the rest through, on the context's stores.
    ports: ChannelPorts
    worker: Worker
    timers: Timers
    scheduler: Scheduler
    github: GithubClient | None
    #: This process's supervisor server (bot/shell/process/forkserver.py), the one its
    #: CommandDeployer forks each command's supervisor from; started on the first command.
    supervisors: SupervisorServer | None = None
    #: This process's long-running tasks and their states (what /healthz reports).
    tasks: TaskRegistry = field(default_factory=TaskRegistry)

    async def close(self) -> None:
        if self.github is not None:
            await self.github.close()
        if self.supervisors is not None:
            await self.supervisors.close()  # commands still running go on to their end
        await self.redis.aclose()


def config_path(settings: Settings) -> Path:
    """The config file: ``DEPLOYBOT_CONFIG``, else the demo set-up made on first use."""
    if settings.deploybot_config is not None:
        return settings.deploybot_config
    return ensure_demo(data_dir=default_data_dir())


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
        redis, embedded = redis_client(settings)
    else:
        embedded = False
    keys = Keys(settings.deploybot_key_prefix)
    secrets = settings.secrets()
    if agents is None:
        agents, model_enabled = build_agents(settings, config, clock=clock)
    else:
        model_enabled = True
    store = ThreadStore(redis=redis, keys=keys)
    queue = InboundQueue(redis=redis, keys=keys)
    # No quiet period after a loss for the embedded store: it dies with this process, and
    # every command it supervises with it. The mark's id is random, never a test's sequence.
    guard = (
        None
        if embedded
        else DataLossGuard(
            redis=redis, keys=keys, lock_ttl_ms=settings.deploybot_lock_ttl_ms, new_id=new_id
        )
    )
    context = Context(
        config=config,
        clock=Clock(now=clock, new_id=ids),
        limits=Limits(
            lock_ttl_ms=settings.deploybot_lock_ttl_ms,
            lock_wait_s=settings.deploybot_lock_wait_s if lock_wait_s is None else lock_wait_s,
            lease_ttl_ms=settings.deploybot_lease_ttl_ms,
            redis_replicas=settings.deploybot_redis_replicas,
            redis_wait_ms=settings.deploybot_redis_wait_ms,
            progress_every_s=progress_every_s,
            model_calls_per_message=settings.deploybot_model_calls_per_message,
        ),
        keys=keys,
        store=store,
        queue=queue,
        outbox=Outbox(redis=redis, keys=keys),
        history=DeployHistory(redis=redis, keys=keys),
        env_lock=EnvLock(redis=redis, keys=keys, guard=guard),
        quarantine=QuarantineList(redis=redis, keys=keys),
        pending=PendingApprovals(keys=keys, queue=queue),
        soak=SoakMarks(redis=redis, keys=keys),
        line=PairQueue(redis=redis, keys=keys, inbound=queue),
        metrics=Metrics(redis=redis, keys=keys),
    )
    timers = Timers(redis=redis, keys=keys, queue=queue, line=context.line, config=config)
    github = github_client(settings)
    lookups = Lookups(
        context=context,
        redis=redis,
        github=github,  # how a planned commit stands to the live one, for GitHub repos
        tags_cache_s=settings.deploybot_tags_cache_s,
    )
    supervisors = default_server()  # one per process: the verifier's commands use it too
    deployer = Deployers(
        config=config,
        commands=CommandDeployer(
            config=config,
            secrets=secrets,
            run_as_root=settings.deploybot_run_commands_as_root,
            server=supervisors,
        ),
        workflows=(
            WorkflowDeployer(
                config=config,
                client=github,
                secrets=secrets,
                timings=WorkflowTimings(
                    poll_s=settings.deploybot_github_poll_s,
                    find_s=settings.deploybot_github_find_s,
                    cancel_wait_s=settings.deploybot_github_cancel_wait_s,
                ),
                now=clock,
            )
            if github is not None
            else None
        ),
    )
    desk = EnvironmentDesk(context=context, lookups=lookups)
    interruptions = Interruptions(context=context)
    executor = Executor(
        context=context,
        watch=DeployWatch(context=context, deployer=deployer),
        recheck=LiveCheck(context=context, lookups=lookups),
        prior=PriorRuns(context=context, deployer=deployer),
        interruptions=interruptions,
    )
    verifier = Verifier(
        config=config,
        secrets=secrets,
        run_as_root=settings.deploybot_run_commands_as_root,
        timings=VerifyTimings(interval_s=settings.deploybot_verify_interval_s),
    )
    handlers = StepHandlers(
        lookups=lookups,
        evidence=EvidenceGatherer(
            config=config,
            github=github,
            api_url=str(settings.github_api_url) if settings.github_api_url else None,
        ),
        executor=executor,
        recovery=Recovery(
            context=context, deployer=deployer, executor=executor, interruptions=interruptions
        ),
        verification=Verification(context=context, verifier=verifier),
        desk=desk,
    )
    runner = Runner(context=context, agents=agents, handlers=handlers)
    worker = Worker(
        context=context,
        runner=runner,
        timers=timers,
        consumer=consumer or f"worker-{ids()}",
        concurrency=concurrency,
        guard=guard,
    )
    return App(
        settings=settings,
        redis=redis,
        embedded=embedded,
        model_enabled=model_enabled,
        context=context,
        ports=channel_ports(
            redis=redis, keys=keys, store=store, queue=queue, outbox=context.outbox
        ),
        worker=worker,
        timers=timers,
        scheduler=Scheduler(context=context, redis=redis),
        github=github,
        supervisors=supervisors,
    )
