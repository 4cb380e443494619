"""The long-running process types (``worker``, ``mail``, ``clock``, ``web``, ``run``): each
checks the settings and Redis before it serves, stops on SIGINT/SIGTERM, and exits with
status 1 when one of its loops dies so that its supervisor restarts it.
"""

import asyncio
import os
import signal
import sys
import warnings

import uvicorn
from redis.exceptions import RedisError

from bot.app.bootstrap import App, bootstrap, utc_now
from bot.app.channels import (
    missing_email_settings,
    slack_inbound,
    socket_mode,
    start_email,
    start_slack_deliverer,
    web_routes,
)
from bot.app.findings.durability import read_persistence
from bot.app.findings.exposure import command_findings, redis_finding
from bot.app.findings.preflight import findings, refusal
from bot.app.settings import Settings
from bot.app.webapp import build_web_app
from bot.core.wording.redact import redact
from bot.shell.runtime import collector
from bot.shell.runtime.event_loop import is_uvloop
from bot.shell.runtime.tasks import DEAD_EXIT_GRACE_S, until_stopped_or_dead
from channels.slack import SocketMode

__all__ = ["run_clock", "run_mail", "run_worker", "serve", "watch_children_with_pidfd"]


def watch_children_with_pidfd() -> None:
    """On Python 3.11 asyncio starts a thread per subprocess to wait for it; a pidfd watcher
    (the default from 3.12 on) waits in the event loop instead: cheaper for every deploy.

    Process-wide: call it once, from inside the one event loop of a long-running command.
    Under uvloop (``bot.shell.runtime.event_loop``) it does nothing: libuv waits for children.
    """
    if sys.version_info >= (3, 12) or not hasattr(asyncio, "PidfdChildWatcher"):
        return
    if is_uvloop(asyncio.get_running_loop()):
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


async def _started(
    settings: Settings, command: str, *, concurrency: int = 32
) -> tuple[App, asyncio.Event] | None:
    """The app of a service that may start (None after one line when it must not), and the
    event that stops it."""
    app = bootstrap(settings, concurrency=concurrency)
    if not await _starting(app, command):
        await app.close()
        return None
    stop = _stop_on_signals(app)
    collector.settle()  # what start-up built lives as long as the process
    app.tasks.on_death = f"deploybot {command} exits (status 1) so its supervisor restarts it"
    return app, stop


async def _starting(app: App, command: str) -> bool:
    """Before a long-running command serves: print the warnings that concern it (config
    and Redis persistence); False (after one line) when it must not start."""
    found = findings(app.settings, app.context.config) + command_findings(
        app.settings, app.context.config
    )
    try:
        wanted = app.settings.deploybot_redis_replicas
        durability = await read_persistence(app.redis, replicas_wanted=wanted)
    except (RedisError, OSError) as exc:
        url = redact(app.settings.redis_url or "", secrets=app.settings.secrets())
        print(f"deploybot {command}: cannot reach Redis at {url}: {exc}", file=sys.stderr)
        return False
    found += durability.findings
    found += [open_] if (open_ := await redis_finding(app.settings, app.context.config)) else []
    if refused := refusal(found, command):
        print(f"deploybot {command}: {refused.text}", file=sys.stderr)
        return False
    for finding in found:
        if command in finding.warns:
            print(f"deploybot {command}: warning: {finding.text}", file=sys.stderr, flush=True)
    print(f"deploybot {command}: {durability.summary}", file=sys.stderr, flush=True)
    return True


def _stop_on_signals(app: App) -> asyncio.Event:
    """An event set by SIGINT or SIGTERM: how a long-running command is told to stop (the
    app's tasks stop with it, so a loop that ends on it is not taken for dead)."""
    stop = asyncio.Event()
    app.tasks.stops_with(stop)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def run_worker(settings: Settings, *, concurrency: int) -> int:
    """``deploybot worker``: advance threads from the inbound stream, deliver to Slack."""
    watch_children_with_pidfd()
    if (started := await _started(settings, "worker", concurrency=concurrency)) is None:
        return 2
    app, stop = started
    print(f"deploybot worker {app.worker.consumer}: ready", flush=True)
    tasks = app.tasks
    tasks.spawn("worker", lambda h: app.worker.run(stop=stop, tasks=tasks, health=h))
    start_slack_deliverer(app, stop)
    return await _until_done(app, stop)


async def _until_done(app: App, stop: asyncio.Event) -> int:
    """Run until ``stop`` (0) or a task's death (1: a supervisor restarts the process)."""
    try:
        dead = await until_stopped_or_dead(app.tasks, stop)
        stop.set()
        await app.tasks.stop()
    finally:
        await app.close()
    return 0 if dead is None else 1


async def run_mail(settings: Settings) -> int:
    """``deploybot mail``: the IMAP IDLE listener and the SMTP deliverer."""
    missing = missing_email_settings(settings)
    if missing:
        print(f"deploybot mail: set {', '.join(missing)}.", file=sys.stderr)
        return 2
    if (started := await _started(settings, "mail")) is None:
        return 2
    app, stop = started
    start_email(app, stop)
    print(f"deploybot mail: watching {settings.imap_username}@{settings.imap_host}", flush=True)
    return await _until_done(app, stop)


async def run_clock(settings: Settings) -> int:
    """``deploybot clock``: start scheduled runs, fire approval reminders and expiries."""
    if (started := await _started(settings, "clock")) is None:
        return 2
    app, stop = started
    names = ", ".join(s.name for s in app.context.config.schedules) or "none"
    print(f"deploybot clock: schedules: {names}", flush=True)
    tasks = app.tasks
    tasks.spawn("scheduler", lambda h: app.scheduler.run(stop=stop, health=h))
    tasks.spawn("timers", lambda h: app.timers.run(clock=utc_now, stop=stop, health=h))
    return await _until_done(app, stop)


async def serve(settings: Settings, *, command: str, host: str, port: int | None) -> int:
    """``deploybot web`` (HTTP only) or ``deploybot run`` (HTTP, worker, scheduler, and the
    channels' deliverers in one process)."""
    with_worker = command == "run"
    if with_worker:
        watch_children_with_pidfd()
    app = bootstrap(settings)
    if not await _starting(app, command):
        await app.close()
        return 2
    slack = slack_inbound(app)
    web = build_web_app(app, routes=web_routes(app, slack))
    port = port or settings.port
    server = uvicorn.Server(
        uvicorn.Config(
            web,
            host=host,
            port=port,
            log_level="warning",
            lifespan="off",
        )
    )
    stop = asyncio.Event()
    tasks = app.tasks
    tasks.on_death = (
        f"/healthz answers 503, and deploybot {command} exits (status 1) in "
        f"{DEAD_EXIT_GRACE_S:.0f} s so its supervisor restarts it"
    )
    serving = asyncio.create_task(server.serve())
    if with_worker:
        tasks.spawn("worker", lambda h: app.worker.run(stop=stop, tasks=tasks, health=h))
        tasks.spawn("scheduler", lambda h: app.scheduler.run(stop=stop, health=h))
        start_slack_deliverer(app, stop)
        if not missing_email_settings(settings):  # email is configured: listen too
            start_email(app, stop)
    socket = socket_mode(app, slack)
    if socket is not None:
        connected = socket
        tasks.spawn("slack:socket", lambda _h: _socket_mode(connected, stop))
    print(f"deploybot {command}: listening on {host}:{port}", flush=True)
    dead = None
    try:
        # uvicorn handles SIGINT/SIGTERM and returns; a dead task is shown by /healthz
        # for a few seconds, then the process exits for its supervisor to restart it.
        dead = await until_stopped_or_dead(tasks, stop, serving)
        if dead is not None:
            await asyncio.wait({serving}, timeout=DEAD_EXIT_GRACE_S)
            server.should_exit = True
        await serving
    finally:
        stop.set()
        if socket is not None:
            await socket.close()
        await tasks.stop()
        await app.close()
    return 0 if dead is None else 1


async def _socket_mode(socket: SocketMode, stop: asyncio.Event) -> None:
    """Connect (slack_sdk retries until connected, and reconnects after), then stay."""
    await socket.connect()
    await stop.wait()
