"""``deploybot check-config``: the config, the environment and how they fit, in one report.

Lines start with ``ok:`` (notes, a finding's ``info`` too), ``warning:`` or ``problem:``; the
exit status is 1 when there is a problem (2 when the config or the environment cannot be read
at all).
"""

import asyncio
import os
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.app.bootstrap import config_path
from bot.app.config_file import load_config
from bot.app.findings.durability import Durability, read_persistence
from bot.app.findings.exposure import accounts, command_findings, redis_finding
from bot.app.findings.preflight import findings
from bot.app.settings import DEFAULT_ANTHROPIC_URL, Settings
from bot.core.config.config import Config
from bot.core.config.principal import Refused
from bot.core.wording.redact import redact
from bot.shell.process.users import bot_user

__all__ = ["check_config", "unreachable_routes"]


def unreachable_routes(config: Config, settings: Settings) -> list[str]:
    """Routes in the config whose channel is not set up: their messages would wait forever."""
    routes: list[tuple[str, str | None]] = []
    for name, env in config.environments.items():
        routes.append((f"environments.{name}.approval_channel", env.approval_channel))
        routes.append((f"environments.{name}.escalate_to", env.escalate_to))
    routes += [(f"schedules.{s.name}.report_to", s.report_to) for s in config.schedules]
    routes += [(f"webhooks.{n}.report_to", h.report_to) for n, h in config.webhooks.items()]
    email_ready = settings.smtp_host and settings.email_from and settings.deploybot_secret
    found = []
    for key, route in routes:
        if route is None:
            continue
        if route.startswith("slack:") and not settings.slack_bot_token:
            found.append(f"{key}: {route} needs SLACK_BOT_TOKEN")
        if route.startswith("email:") and not email_ready:
            found.append(f"{key}: {route} needs SMTP_HOST, EMAIL_FROM and DEPLOYBOT_SECRET")
    return found


def _scripts(config: Config) -> list[str]:
    found = []
    for name, service in config.services.items():
        for target in (service.deploy, service.rollback or [], service.status or []):
            argv = target if isinstance(target, list) else []
            if argv and argv[0].startswith(("./", "../", "/")):
                exe = Path(config.argv_path(argv[0]))
                if not exe.exists():
                    found.append(f"services.{name}: {exe} does not exist")
                elif not os.access(exe, os.X_OK):
                    found.append(f"services.{name}: {exe} is not executable")
    return found


async def _durability(settings: Settings) -> tuple[Durability | None, str | None]:
    """(how Redis keeps what it acknowledged; a problem line when it cannot be reached)."""
    assert settings.redis_url is not None
    client = Redis.from_url(settings.redis_url, socket_connect_timeout=5, socket_timeout=5)
    try:
        wanted = settings.deploybot_redis_replicas
        return await read_persistence(client, replicas_wanted=wanted), None
    except (RedisError, OSError) as exc:
        url = redact(settings.redis_url, secrets=settings.secrets())
        return None, f"cannot reach Redis at {url}: {exc}"
    finally:
        await client.aclose()


def _who_runs_commands(settings: Settings, config: Config) -> str:
    """One line: which users the commands run as (service/environment pairs each)."""
    users: dict[str, int] = {}
    for _, _, account in accounts(settings, config):
        name = (
            "(refused)"
            if isinstance(account, Refused)
            else bot_user()[0]
            if account is None
            else account.name
        )
        users[name] = users.get(name, 0) + 1
    shown = ", ".join(f"{name} ({n})" for name, n in sorted(users.items()))
    protection = "" if bot_user()[1] else "; bot processes are non-dumpable"
    return f"commands run as: {shown}{protection}"


def check_config(settings: Settings) -> int:
    """Print the report; raises ``ConfigError`` (naming the key) for a config that won't load."""
    path = config_path(settings)
    config = load_config(path)
    notes = [
        f"config {path}: {len(config.services)} services, "
        f"{len(config.environments)} environments, {len(config.people)} people"
    ]
    problems = _scripts(config) + unreachable_routes(config, settings)
    warnings: list[str] = []
    found = findings(settings, config) + command_findings(settings, config)
    notes.append(_who_runs_commands(settings, config))
    if not settings.redis_url:
        notes.append("REDIS_URL not set: only 'deploybot chat' (embedded store) will work")
    else:
        durability, unreachable = asyncio.run(_durability(settings))
        if durability is not None:
            notes.append(durability.summary)
            found += durability.findings
        problems += [unreachable] if unreachable else []
        if unreachable is None and (open_ := asyncio.run(redis_finding(settings, config))):
            found.append(open_)
    lines = {"problem": problems, "warning": warnings, "info": notes}
    for finding in found:
        lines[finding.level].append(finding.text)
    if settings.email_configured and settings.dmarc_required and settings.email_authserv_ids:
        ids = ", ".join(settings.email_authserv_ids)
        notice = settings.email_refusal_notice_s
        told = f"told to its person at most every {notice:g} s" if notice else "not told"
        notes.append(
            f"email counts only with dmarc=pass from our mail servers' authserv-ids {ids}; "
            f"refused email is audited, counted and {told} (EMAIL_REFUSAL_NOTICE_S)"
        )
    if settings.anthropic_api_key is None:
        notes.append("ANTHROPIC_API_KEY not set: exact commands only")
    elif settings.anthropic_base_url != DEFAULT_ANTHROPIC_URL:
        notes.append(f"model calls go to ANTHROPIC_BASE_URL {settings.anthropic_base_url}")
    for line in notes:
        print(f"ok: {line}")
    for line in warnings:
        print(f"warning: {line}")
    for line in problems:
        print(f"problem: {line}")
    return 1 if problems else 0
