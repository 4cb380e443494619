"""The ``deploybot`` command: entry points only; everything is built by ``bootstrap()``."""

import argparse
import asyncio
import json
import os
import sys
from datetime import timedelta
from pathlib import Path

from agents.render import thread_to_prompt
from bot.app.bootstrap import App, bootstrap, utc_now
from bot.app.bootstrap import new_id as make_id
from bot.app.channels import terminal_channel
from bot.app.findings.check import check_config
from bot.app.findings.exposure import command_findings
from bot.app.findings.preflight import SERVICES, findings, refusal
from bot.app.services import run_clock, run_mail, run_worker, serve, watch_children_with_pidfd
from bot.app.settings import Settings, load_settings
from bot.core.errors import ConfigError
from bot.core.thread.audit import audit_records, parse_since, refusal_record
from bot.core.thread.set_aside import set_aside_record
from bot.core.wording.redact import redact
from bot.shell.process.proctree import mark_undumpable
from bot.shell.runtime import event_loop
from bot.shell.runtime.logs import configure_logging
from bot.shell.streams.refusals import MailRefusals
from bot.shell.streams.set_aside import SetAsideInputs

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deploybot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    chat = sub.add_parser("chat", help="talk to the bot in this terminal")
    chat.add_argument(
        "--config", type=Path, help="config file (default: DEPLOYBOT_CONFIG or the built-in demo)"
    )
    chat.add_argument("--user", help="who you are: a name from [people]")
    worker = sub.add_parser("worker", help="advance threads from the inbound stream")
    worker.add_argument("--concurrency", type=int, default=32)
    threads = sub.add_parser("threads", help="inspect threads")
    tsub = threads.add_subparsers(dest="threads_command", required=True)
    tlist = tsub.add_parser("list", help="recent threads and their status")
    tlist.add_argument("--limit", type=int, default=20)
    show = tsub.add_parser("show", help="one thread's events")
    show.add_argument("id")
    show.add_argument(
        "--prompt", action="store_true", help="print exactly what the model would see next"
    )
    sub.add_parser("check-config", help="validate the config and the environment")
    audit = sub.add_parser("audit", help="requests, model choices, approvals, deploys, locks")
    audit.add_argument("--since", default="7d", help="7d, 12h, 30m or an ISO time (default 7d)")
    for name, what in (
        ("web", "the HTTP server: /healthz, /metrics, the /v1 API, Slack"),
        ("run", "everything in one process: web, worker, clock"),
    ):
        serve = sub.add_parser(name, help=what)
        serve.add_argument("--host", default="0.0.0.0")
        serve.add_argument("--port", type=int, help="default: PORT, else 8000")
    sub.add_parser("clock", help="start scheduled runs and fire approval reminders/expiries")
    sub.add_parser("mail", help="the email channel: IMAP IDLE listener and SMTP deliverer")
    return parser


# Commands that share state through Redis (only 'chat' has an embedded store of its own).
_NEED_REDIS = {
    "worker": "REDIS_URL is required (workers share state through Redis).",
    "web": "REDIS_URL is required.",
    "run": "REDIS_URL is required.",
    "clock": "REDIS_URL is required.",
    "audit": "REDIS_URL is required.",
    "threads": "set REDIS_URL (the embedded store lives only inside 'deploybot chat').",
}


def main(argv: list[str] | None = None) -> int:
    # Before any secret is read: a command of the bot's own user cannot read this process's
    # /proc/<pid>/environ or memory, nor ptrace it (docs/security.md).
    mark_undumpable()
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:  # one line naming the variable, for every command
        print(f"deploybot: {exc}", file=sys.stderr)
        return 2
    # Services log JSON lines (with the thread id); interactive commands log plain text.
    service = args.command in SERVICES
    configure_logging(
        level=settings.log_level(service=service),
        json_lines=settings.log_format(service=service) == "json",
        secrets=settings.secrets(),
    )
    if service and (refused := refusal(findings(settings), args.command)):
        print(f"deploybot {args.command}: {refused.text}", file=sys.stderr)
        return 2
    if args.command in _NEED_REDIS and not settings.redis_url:
        print(f"deploybot {args.command}: {_NEED_REDIS[args.command]}", file=sys.stderr)
        return 2
    try:
        match args.command:
            case "chat":
                return event_loop.run(_chat(settings, config=args.config, user=args.user))
            case "worker":
                return event_loop.run(run_worker(settings, concurrency=args.concurrency))
            case "threads":
                return event_loop.run(_threads(settings, args))
            case "check-config":
                return check_config(settings)
            case "clock":
                return event_loop.run(run_clock(settings))
            case "audit":
                return event_loop.run(_audit(settings, since=args.since))
            case "mail":
                return event_loop.run(run_mail(settings))
            case _:  # argparse admits no command but those above and these two
                assert args.command in ("web", "run"), args.command
                return event_loop.run(
                    serve(settings, command=args.command, host=args.host, port=args.port)
                )
    except ConfigError as exc:
        print(f"deploybot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _banner(app: App) -> str:
    if app.embedded:
        store = "embedded store (state is lost on exit; set REDIS_URL to keep it)."
    else:
        url = redact(app.settings.redis_url or "", secrets=app.settings.secrets())
        store = f"Redis at {url}."
    if app.model_enabled:
        model = f"Claude ({app.settings.anthropic_model}) reads free text; type 'help'."
    else:
        model = "No ANTHROPIC_API_KEY: exact commands only; type 'help'."
    return f"deploybot: {store} {model}"


def _default_user(app: App) -> str:
    login = os.environ.get("USER", "")
    if login in app.context.config.people:
        return login
    approvers = {p for env in app.context.config.environments.values() for p in env.approvers}
    requesters = [p for p in app.context.config.people if p not in approvers]
    return (requesters or list(app.context.config.people) or ["me"])[0]


async def _chat(settings: Settings, *, config: Path | None, user: str | None) -> int:
    watch_children_with_pidfd()
    app = bootstrap(settings, config_file=config, consumer=f"chat-{make_id()}")
    try:
        interactive = sys.stdin.isatty()
        channel = terminal_channel(app, user=user or _default_user(app))
        print(_banner(app), flush=True)
        for finding in command_findings(settings, app.context.config):  # who deploy commands run as
            print(f"deploybot chat: {finding.level}: {finding.text}", file=sys.stderr)
        if warning := channel.whoami_warning():
            print(f"({warning})", flush=True)
        if interactive:

            async def ask(prompt: str) -> str | None:
                try:
                    return await asyncio.to_thread(input, prompt)
                except EOFError:
                    return None

            await channel.run(ask)
        else:
            await channel.run(sys.stdin)
        return 0
    finally:
        await app.close()


async def _audit(settings: Settings, *, since: str) -> int:
    try:
        start = parse_since(since, now=utc_now())
    except ValueError as exc:
        print(f"deploybot audit: {exc}", file=sys.stderr)
        return 2
    app = bootstrap(settings)
    try:
        # Threads created up to 30 days before the window may still have events in it.
        # Each thread's events in the order they happened; threads oldest first.
        async for thread in app.context.store.threads_since(start - timedelta(days=30)):
            for record in audit_records(thread, since=start):
                print(json.dumps(record, separators=(",", ":")))
        # Emails refused for authentication belong to no thread: after them, oldest first.
        for refusal in await MailRefusals(redis=app.redis, keys=app.context.keys).since(start):
            print(json.dumps(refusal_record(refusal), separators=(",", ":")))
        # Inputs a channel could not handle and set aside (the newest 1000 are kept).
        for item in await SetAsideInputs(redis=app.redis, keys=app.context.keys).since(start):
            print(json.dumps(set_aside_record(item), separators=(",", ":")))
    finally:
        await app.close()
    return 0


async def _threads(settings: Settings, args: argparse.Namespace) -> int:
    app = bootstrap(settings)
    try:
        if args.threads_command == "list":
            for tid in await app.context.store.recent_ids(limit=args.limit):
                thread = await app.context.store.load(tid)
                if thread is None:
                    continue
                first = next(
                    (getattr(e, "text", "") for e in thread.events if e.type == "user_message"), ""
                )
                print(
                    f"{thread.id}  {thread.status:<17} {thread.created_at:%Y-%m-%d %H:%M}  "
                    f"{thread.origin.kind:<8} {first[:60]}"
                )
            return 0
        thread = await app.context.store.load(args.id)
        if thread is None:
            print(f"deploybot: no thread {args.id}", file=sys.stderr)
            return 1
        if args.prompt:
            print(
                thread_to_prompt(
                    thread, config=app.context.config, now=utc_now(), secrets=settings.secrets()
                )
            )
            return 0
        print(
            json.dumps(
                {
                    "id": thread.id,
                    "status": thread.status,
                    "origin": thread.origin.model_dump(mode="json"),
                    "agent": thread.agent,
                },
                indent=None,
            )
        )
        for event in thread.events:
            print(event.model_dump_json(exclude_none=True))
        return 0
    finally:
        await app.close()
