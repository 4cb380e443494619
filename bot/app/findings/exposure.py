"""What code being deployed could reach of the bot: findings for check-config and start-up.

A deploy command runs code from the repository being deployed. These findings say, before
anything is deployed, where that code could act with the bot's authority:

- a command that may not run at all (``run_as`` names an unknown user, uid 0 without the
  opt-in, or a user a non-root bot cannot switch to): a problem, the worker refuses to start;
- commands that run as root (``DEPLOYBOT_RUN_COMMANDS_AS_ROOT=true``): a loud warning;
- a script the command's user cannot execute (a folder on the way it may not enter);
- a ``.env`` file that the command's user may read (it holds the bot's secrets);
- a Redis that answers a connection without a password while commands run
  (``anonymous_redis``): any local process, a deploy script included, could then write
  an approval into the inbound stream. The fix is an ACL user with a password
  (docs/operations.md: the ``ACL SETUSER`` line) and no ``nopass`` default user.
"""

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.exceptions import AuthenticationError, RedisError, ResponseError

from bot.app.findings.preflight import SERVICES, Finding
from bot.app.settings import Settings
from bot.core.config.config import Config
from bot.core.config.principal import ROOT_OPT_IN, Refused
from bot.core.config.service import CommandCheck
from bot.shell.process.users import Account, bot_user, command_account, reachable

__all__ = [
    "ACL_COMMANDS",
    "accounts",
    "acl_setuser",
    "anonymous_redis",
    "command_findings",
    "redis_finding",
    "runs_commands",
]

#: Every Redis command deploybot sends (its scripts call GET, SET, DEL, INCR and PEXPIRE,
#: which are listed anyway); tests/e2e/test_redis_acl.py runs the bot as a user with only
#: these and reads Redis's ACL LOG for anything refused.
ACL_COMMANDS = (  # noqa: SIM905 - a list of names, kept readable
    "ping info time config|get wait multi exec discard scan memory|usage "
    "get set getdel del unlink exists expire pexpire pttl incr "
    "hget hset hsetnx hgetall hdel hincrby lpush lrange ltrim sadd srem smembers "
    "zadd zrem zrange zrangebyscore zrevrange zremrangebyscore zcard zmscore "
    "xadd xread xreadgroup xack xautoclaim xclaim xgroup xinfo xlen xdel xrange xpending "
    "eval evalsha script|load"
).split()

_WORKERS = frozenset({"worker", "run"})


def acl_setuser(prefix: str, *, user: str = "deploybot") -> str:
    """The ``ACL SETUSER`` line for a Redis user that may do what deploybot does, on its own
    keys (``prefix``) only, and nothing else: no pub/sub, no admin commands."""
    allowed = " ".join(f"+{name}" for name in ACL_COMMANDS)
    return f"ACL SETUSER {user} on >PASSWORD resetkeys ~{prefix}:* resetchannels -@all {allowed}"


def runs_commands(config: Config) -> bool:
    """Whether the bot starts any command: argv deploy/rollback/status, or command checks."""
    for svc in config.services.values():
        if any(isinstance(t, list) for t in (svc.deploy, svc.rollback, svc.status)):
            return True
    checks = [
        *(c for s in config.services.values() for c in s.checks),
        *(c for e in config.environments.values() for c in e.checks),
    ]
    return any(isinstance(c, CommandCheck) for c in checks)


def _argv0s(config: Config, service: str) -> list[str]:
    svc = config.services[service]
    return [t[0] for t in (svc.deploy, svc.rollback, svc.status) if isinstance(t, list)]


def accounts(
    settings: Settings, config: Config
) -> Iterator[tuple[str, str, Account | Refused | None]]:
    """Who the commands of each service in each of its environments run as."""
    for service, svc in config.services.items():
        for environment in svc.environments:
            yield (
                service,
                environment,
                command_account(
                    config,
                    service=service,
                    environment=environment,
                    root_allowed=settings.deploybot_run_commands_as_root,
                ),
            )


def command_findings(settings: Settings, config: Config) -> list[Finding]:
    """Who commands run as, and what that user can reach (one finding per distinct fact)."""
    if not runs_commands(config):
        return []
    texts: dict[str, Finding] = {}
    as_root = False
    for service, environment, account in accounts(settings, config):
        if isinstance(account, Refused):
            text = f"commands of {service} in {environment} cannot run: {account.reason}"
            texts.setdefault(account.reason, Finding("problem", text, refuses=_WORKERS))
        elif account is None:
            as_root = as_root or bot_user()[1]
        else:
            for finding in _reach(config, service, account):
                texts.setdefault(finding.text, finding)
    found = list(texts.values())
    if as_root:
        found.insert(
            0,
            Finding(
                "warning",
                f"{ROOT_OPT_IN}=true: deploy commands run as root, so code being deployed can "
                "read every secret of deploybot and act as it; set run_as in the config "
                "instead (docs/security.md)",
                warns=SERVICES,
            ),
        )
    return found


def _reach(config: Config, service: str, account: Account) -> list[Finding]:
    found = []
    for arg in _argv0s(config, service):
        if arg.startswith(("./", "../", "/")):
            exe = Path(config.argv_path(arg))
            if exe.exists() and not reachable(exe, account):
                found.append(
                    Finding(
                        "problem",
                        f"services.{service}: {exe} cannot be run by {account.name} (the "
                        "user its commands run as): it, or a folder on the way, is not "
                        f"readable and executable by {account.name}",
                        warns=_WORKERS,
                    )
                )
    env_file = Path(".env")
    if env_file.is_file() and env_file.stat().st_mode & 0o044:
        found.append(
            Finding(
                "warning",
                f"{env_file.resolve()} holds deploybot's settings and is readable by others: "
                f"chmod 600 it, or {account.name} (deploy commands) may read its secrets",
                warns=SERVICES,
            )
        )
    return found


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=host))


async def anonymous_redis(url: str) -> bool | None:
    """Whether the Redis at ``url`` answers a client that gives no user and no password
    (None: it could not be asked)."""
    client = Redis.from_url(_without_credentials(url), socket_connect_timeout=5, socket_timeout=5)
    try:
        await client.ping()
    except (AuthenticationError, ResponseError):  # NOAUTH / WRONGPASS: it wants a password
        return False
    except (RedisError, OSError):
        return None
    finally:
        await client.aclose()
    return True


async def redis_finding(settings: Settings, config: Config) -> Finding | None:
    """A warning when commands run and Redis lets anyone in (check-config and start-up)."""
    if settings.redis_url is None or not runs_commands(config):
        return None
    if await anonymous_redis(settings.redis_url) is not True:
        return None
    where = urlsplit(_without_credentials(settings.redis_url)).netloc or "its socket"
    return Finding(
        "warning",
        f"Redis at {where} answers without a password: any local process, a deploy script "
        "included, can read deploybot's threads and write an approval into its inbound "
        "stream; give deploybot an ACL user with a password and turn off the nopass "
        "default user: " + acl_setuser(settings.deploybot_key_prefix) + "; ACL SETUSER "
        "default off (docs/security.md)",
        warns=SERVICES,
    )
