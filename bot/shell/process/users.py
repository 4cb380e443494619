"""The accounts commands run as: ``bot.core.config.principal``'s decision, looked up in the system's
user database, and the facts check-config needs about them.

``command_account`` answers, for one service and environment: ``None`` (run as the bot's
own user, no switch), an ``Account`` the supervisor switches to before exec, or ``Refused``
with the reason (an unknown user, a name that is uid 0 without the opt-in, a non-root bot
asked to switch). Lookups are cheap (``getpwnam``), so they are done for every command:
a user created or removed while the bot runs is seen at the next deploy.
"""

import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

from bot.core.config.config import Config
from bot.core.config.principal import (
    AsBot,
    AsRoot,
    AsUser,
    Refused,
    command_user,
    configured_run_as,
    root_refusal,
)
from bot.core.reports.command_run import no_such_user_reason

__all__ = ["Account", "bot_user", "command_account", "lookup", "reachable"]


@dataclass(frozen=True)
class Account:
    """A user a command runs as: its ids and groups, and its home when that user owns it
    (otherwise the supervisor's private working folder is the command's HOME)."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str | None


def bot_user() -> tuple[str, bool]:
    """The bot's own user name (or uid when it has none) and whether it is root."""
    uid = os.geteuid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    return name, uid == 0


def lookup(name: str) -> Account | Refused:
    """The account called ``name``; ``Refused`` when there is none."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return Refused(no_such_user_reason(name=name))
    groups = tuple(dict.fromkeys(os.getgrouplist(entry.pw_name, entry.pw_gid)))
    home: str | None = entry.pw_dir
    try:
        info = os.stat(entry.pw_dir)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != entry.pw_uid:
            home = None
    except OSError:
        home = None
    return Account(name=entry.pw_name, uid=entry.pw_uid, gid=entry.pw_gid, groups=groups, home=home)


def command_account(
    config: Config, *, service: str, environment: str, root_allowed: bool
) -> Account | Refused | None:
    """Who a command of ``service`` in ``environment`` runs as (None: the bot itself)."""
    configured, source = configured_run_as(config, service=service, environment=environment)
    name, is_root = bot_user()
    decided = command_user(
        configured=configured,
        source=source,
        bot_user=name,
        bot_is_root=is_root,
        root_allowed=root_allowed,
    )
    match decided:
        case AsBot() | AsRoot():
            return None
        case Refused():
            return decided
        case AsUser(name=user, source=where):
            found = lookup(user)
            if isinstance(found, Refused):
                return Refused(f"{where} = {user!r}: {found.reason}")
            if found.uid == 0:
                if root_allowed:
                    return None
                return Refused(root_refusal(f"{where} = {user!r} (uid 0)"))
            return found


def reachable(path: Path, account: Account) -> bool:
    """Whether ``account`` may execute ``path``: every folder on the way searchable, the
    file itself readable and executable (by owner, group or others, as the kernel checks)."""
    parts = [*reversed(path.parents), path]
    for i, part in enumerate(parts):
        try:
            info = os.stat(part)
        except OSError:
            return False
        need = 0o5 if i == len(parts) - 1 else 0o1  # r-x for the file, --x on the way
        if info.st_uid == account.uid:
            bits = (info.st_mode >> 6) & 0o7
        elif info.st_gid in account.groups or info.st_gid == account.gid:
            bits = (info.st_mode >> 3) & 0o7
        else:
            bits = info.st_mode & 0o7
        if bits & need != need:
            return False
    return True
