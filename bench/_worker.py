"""The one deploybot worker process the benchmark (``bench/threads.py``) drives.

Started as a subprocess: builds the app with ``bot.app.bootstrap.bootstrap`` and a zero-latency
scripted agent, runs the worker as ``deploybot worker`` does (its own pump delivers the ``api``
channel's replies, ``LogSender``: the bench counts them, ``CountingLogSender``), and stops
cleanly on SIGTERM/SIGINT. It prints ``ready`` once its consumer groups exist. (Until issue
18's third session it also ran a second deliverer of its own for the ``api`` channel, beside
the worker's: two consumers polling one stream, about 0.5 round trips per thread that a real
worker does not make.)

On SIGUSR1 it prints one JSON line with its Redis traffic so far (see ``bench/_traffic.py``),
its CPU time (``cpu_s``), how many messages the outbox delivered, the deploy supervisors' own
CPU (``supervisor_cpu_s``: ``app.supervisors.cpu_s()`` where the App has a long-lived
supervisor server, else 0.0 with ``supervisor_measured`` false) and the CPU of every child it
has reaped (``children_cpu_s``, ``RUSAGE_CHILDREN``: per-command supervisors and the commands
they ran) and the wall time its garbage collections took (``gc_s``), so the benchmark can
take deltas per phase. ``--consumer`` names it, so several
workers can share one Redis. The warning "running ... as root" (one per command, expected: the
bench sets DEPLOYBOT_RUN_COMMANDS_AS_ROOT) is filtered out; every other log line is kept.
With ``--profile FILE`` it runs under cProfile and writes the stats to FILE when it stops.
"""

import argparse
import asyncio
import cProfile
import json
import logging
import resource
import signal
import sys
import time
from pathlib import Path
from typing import Any, Literal

from _traffic import Traffic, count_traffic

from bot.app.bootstrap import bootstrap
from bot.app.config_file import load_config
from bot.app.services import watch_children_with_pidfd
from bot.app.settings import Settings
from bot.core.ports.agent import Decision
from bot.core.ports.outbound import OutboundMessage
from bot.core.thread.events import UserMessage
from bot.core.thread.intents import Deploy
from bot.core.thread.thread import Thread
from bot.shell.loop import worker as worker_module
from bot.shell.runtime import collector, event_loop
from bot.shell.streams.pull import LogSender

__all__ = ["CountingLogSender", "ScriptedAgent", "main"]


class ScriptedAgent:
    """Zero latency: proposes deploying the latest tag of the service the request names
    (``please ship <service> to production``) to production."""

    def __init__(self, name: Literal["deploy", "rollback"], services: list[str]) -> None:
        self.name: Literal["deploy", "rollback"] = name
        self._services = set(services)

    async def decide(self, thread: Thread) -> Decision:
        first = next(e for e in thread.events if isinstance(e, UserMessage))
        named = [w for w in first.text.split() if w in self._services]
        return Decision(intent=Deploy(service=named[0], environment="production"))


class CountingLogSender(LogSender):
    """The worker's own sender for pull-only channels, counting what it delivers."""

    sent = 0

    async def send(self, message: OutboundMessage) -> None:
        CountingLogSender.sent += 1
        await super().send(message)


class _NotAsRootWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("running %s as root")


def _report(app: Any) -> None:
    supervisors = getattr(app, "supervisors", None)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = {
        **Traffic.snapshot(),
        "sent": CountingLogSender.sent,
        "cpu_s": time.process_time(),
        "supervisor_cpu_s": 0.0 if supervisors is None else float(supervisors.cpu_s()),
        "supervisor_measured": supervisors is not None,
        "children_cpu_s": children.ru_utime + children.ru_stime,
        "gc_s": collector.gc_seconds(),
    }
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


async def serve(args: argparse.Namespace) -> None:
    settings = Settings(
        redis_url=args.redis_url,
        deploybot_key_prefix=args.prefix,
        deploybot_config=args.config,
        anthropic_api_key=None,
    )
    services = sorted(load_config(args.config).services)
    watch_children_with_pidfd()  # as `deploybot worker` does
    app = bootstrap(
        settings,
        config_file=args.config,
        consumer=args.consumer,
        agents={
            "deploy": ScriptedAgent("deploy", services),
            "rollback": ScriptedAgent("rollback", services),
        },
        concurrency=args.concurrency,
        lock_wait_s=args.lock_wait_s,
    )
    collector.settle()  # as `deploybot worker` does once its app is built
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, _report, app)
    try:
        await app.context.queue.ensure_group()
        await app.context.outbox.ensure_group("api")
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        worker_module.LogSender = CountingLogSender  # type: ignore[misc]
        await app.worker.run(stop=stop)
    finally:
        await app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--consumer", default="bench-worker")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--lock-wait-s", type=float, default=300)
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument(
        "--asyncio-loop",
        action="store_true",
        help="run on asyncio's own event loop instead of uvloop (as before issue 18's last step)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="worker %(levelname)s %(name)s: %(message)s")
    logging.getLogger("bot.shell.process.command_deployer").addFilter(_NotAsRootWarning())
    count_traffic(commands=False)  # its commands: Redis's commandstats (bench/_metering.py)
    collector.watch_collections()
    run = asyncio.run if args.asyncio_loop else event_loop.run
    if args.profile is None:
        run(serve(args))
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        run(serve(args))
    finally:
        profiler.disable()
        profiler.dump_stats(str(args.profile))


if __name__ == "__main__":
    main()
