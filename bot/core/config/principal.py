"""Who a command runs as: deploy, rollback, status and verification ``command`` checks.

Code from the repository being deployed runs in these commands. Whatever user they run as
can read what that user may read: the bot's ``/proc/<pid>/environ`` (its Redis password,
tokens and keys) when it is the bot's own user and the bot is dumpable, every file the bot
can read, and a local Redis that asks for no password. So:

- The bot runs as root (containers, CI runners): a command never runs as root by accident.
  It runs as ``run_as`` (the service's, else the environment's, else the config's top-level
  one), or as ``DEFAULT_USER`` when the config names nobody. The supervisor switches to that
  user (its groups, then its gid, then its uid) just before exec. Root needs an explicit,
  loud opt-in: ``DEPLOYBOT_RUN_COMMANDS_AS_ROOT=true`` (warned about at every start).
- The bot runs as a plain user: it cannot switch users, so commands run as that same user,
  and every bot process is marked non-dumpable (``PR_SET_DUMPABLE`` 0), which keeps a
  same-user process out of its ``/proc`` files and from ``ptrace``. A ``run_as`` naming
  anyone else is refused (the deploy fails before anything runs; check-config says so).

This module decides from names and two facts about the bot; the shell looks the user up
(``bot.shell.principal``) and refuses a name that turns out to be root in disguise (uid 0).
"""

from dataclasses import dataclass

from bot.core.config.config import Config

__all__ = [
    "DEFAULT_USER",
    "ROOT_OPT_IN",
    "AsBot",
    "AsRoot",
    "AsUser",
    "CommandUser",
    "Refused",
    "command_user",
    "configured_run_as",
    "root_refusal",
]

#: Who commands run as when the bot is root and the config names nobody.
DEFAULT_USER = "nobody"
#: The setting that lets commands run as root.
ROOT_OPT_IN = "DEPLOYBOT_RUN_COMMANDS_AS_ROOT"
_ROOT = "root"


@dataclass(frozen=True)
class AsBot:
    """The bot's own (non-root) user: non-dumpable bot processes are what protects it."""


@dataclass(frozen=True)
class AsUser:
    """Another user, switched to by the supervisor before exec."""

    name: str
    source: str  # the config key that named it, or "default"


@dataclass(frozen=True)
class AsRoot:
    """Root, because ``DEPLOYBOT_RUN_COMMANDS_AS_ROOT`` says so."""

    source: str


@dataclass(frozen=True)
class Refused:
    """The command must not run; ``reason`` says why and how to fix it."""

    reason: str


CommandUser = AsBot | AsUser | AsRoot | Refused


def command_user(
    *,
    configured: str | None,
    source: str,
    bot_user: str,
    bot_is_root: bool,
    root_allowed: bool,
) -> CommandUser:
    """Who a command runs as. ``configured`` is the ``run_as`` that applies (None: none),
    ``source`` the key it came from; ``bot_user`` and ``bot_is_root`` describe the bot."""
    if not bot_is_root:
        if configured is None or configured == bot_user:
            return AsBot()
        return Refused(
            f"{source} = {configured!r}, but deploybot runs as {bot_user!r}, not as root, so "
            "it cannot start commands as another user; run deploybot as root (it switches "
            "to run_as for each command) or remove run_as"
        )
    if configured is None:
        if root_allowed:
            return AsRoot(source=ROOT_OPT_IN)
        return AsUser(name=DEFAULT_USER, source="default")
    if configured == _ROOT:
        if root_allowed:
            return AsRoot(source=source)
        return Refused(root_refusal(source))
    return AsUser(name=configured, source=source)


def root_refusal(source: str) -> str:
    """Why a command may not run as root (``source``: what named root)."""
    return (
        f"{source} runs commands as root: code being deployed could read every secret of "
        f"the bot; set {ROOT_OPT_IN}=true to allow it (not recommended)"
    )


def configured_run_as(config: Config, *, service: str, environment: str) -> tuple[str | None, str]:
    """The ``run_as`` that applies to a command of ``service`` in ``environment``, and the
    key that says it: the service's, else the environment's, else the config's top level."""
    svc = config.services[service]
    env = config.environments.get(environment)
    if svc.run_as is not None:
        return svc.run_as, f"services.{service}.run_as"
    if env is not None and env.run_as is not None:
        return env.run_as, f"environments.{environment}.run_as"
    return config.run_as, "run_as"
