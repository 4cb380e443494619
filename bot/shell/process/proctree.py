"""What the supervisor (bot/shell/process/supervisor.py) does to processes: ``prctl``, the tree of
processes below it read from /proc, signalling that tree, and switching a command to the
user it runs as (bot/core/config/principal.py says who).

Standard library only, and no import of ``bot``: the supervisor runs as a script with
``python -I -S`` and imports this module from its own folder.

Switching user, in a child between fork and exec: ``setgroups`` (the user's supplementary
groups, so none of root's stay), ``setresgid`` then ``setresuid`` (real, effective and saved
ids: nothing can be regained once the uid is dropped), then the working folder. The
working folder is made by root (mode 0700, a random name in ``$TMPDIR`` or /tmp, so a name
planted in advance makes ``mkdir`` fail instead of being used) and handed to the user;
it is removed by a child that is that user again, so a link the command left in it cannot
make root remove anything outside it.
"""

import contextlib
import ctypes
import os
import signal
from collections.abc import Iterable, Sequence

__all__ = [
    "PR_SET_CHILD_SUBREAPER",
    "PR_SET_DUMPABLE",
    "PR_SET_PDEATHSIG",
    "become_user",
    "descendants",
    "make_workdir",
    "mark_undumpable",
    "prctl",
    "remove_workdir",
    "signal_all",
]

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36


def prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)  # loaded before any fork: cached by the loader
    if libc.prctl(option, value, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl({option}): {os.strerror(err)}")


def mark_undumpable() -> None:
    """This process's /proc files (environ, mem, fd, ...) become root's, and no process of
    the same user may ptrace it: what keeps a same-user deploy command out of the bot's
    secrets. Not inherited across exec (a command starts dumpable again)."""
    prctl(PR_SET_DUMPABLE, 0)


def _ppid_and_state(pid: str) -> tuple[int, str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), fields[0].decode()


def descendants(root: int) -> list[int]:
    """Every running (not zombie) process below ``root``, read from /proc."""
    children: dict[int, list[int]] = {}
    running: set[int] = set()
    for name in os.listdir("/proc"):
        if name.isdigit() and (found := _ppid_and_state(name)) is not None:
            ppid, state = found
            children.setdefault(ppid, []).append(int(name))
            if state not in ("Z", "X"):
                running.add(int(name))
    below: list[int] = []
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        below.append(pid)
        todo.extend(children.get(pid, []))
    return [pid for pid in below if pid in running]


def signal_all(pids: Iterable[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def make_workdir(uid: int, gid: int) -> str:
    """A fresh folder only ``uid`` may use, with a name nobody could guess."""
    base = os.environ.get("TMPDIR") or "/tmp"  # mkdir fails on a planted name
    path = os.path.join(base, "deploybot-run-" + os.urandom(12).hex())
    os.mkdir(path, 0o700)
    try:
        os.chown(path, uid, gid)
    except OSError:
        os.rmdir(path)
        raise
    return path


def become_user(uid: int, gid: int, groups: Sequence[int], workdir: str) -> None:
    """In a child: the user's groups, then its gid, then its uid, then its folder."""
    os.setgroups(list(groups))
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    os.chdir(workdir)


def remove_workdir(uid: int, gid: int, groups: Sequence[int], workdir: str) -> None:
    """Remove ``workdir`` as its user (whatever the command left in it)."""
    pid = os.fork()
    if pid == 0:
        try:
            become_user(uid, gid, groups, "/")
            _remove_tree(workdir)
        finally:
            os._exit(0)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _remove_tree(top: str) -> None:
    """Everything below ``top``, then ``top``; links removed, never followed. (By hand:
    importing shutil would cost this process about 4 ms on every deploy.) Run as the
    folder's user, it can remove nothing that user could not remove anyway."""
    for root, dirs, files in os.walk(top, topdown=False):
        for name in files:
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(root, name))
        for name in dirs:
            path = os.path.join(root, name)
            with contextlib.suppress(OSError):
                if os.path.islink(path):
                    os.unlink(path)
                else:
                    os.rmdir(path)
    with contextlib.suppress(OSError):
        os.rmdir(top)
