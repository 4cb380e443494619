"""What the supervisor (bot/shell/process/supervisor.py) does to processes: ``prctl``, the tree of
processes below it read from /proc, signalling that tree, and switching a command to the
user it runs as (bot/core/config/principal.py says who), and ``clone_parent``: the supervisor
server's way to start a per-command supervisor as a child of the worker, not of itself.

Standard library only, and no import of ``bot``: the supervisor runs as a script with
``python -I -S`` and imports this module from its own folder.

Switching user, in a child between fork and exec: ``setgroups`` (the user's supplementary
groups, so none of root's stay), ``setresgid`` then ``setresuid`` (real, effective and saved
ids: nothing can be regained once the uid is dropped), then the working folder. The
working folder is made by root (mode 0700, a random name in ``$TMPDIR`` or /tmp, so a name
planted in advance makes ``mkdir`` fail instead of being used) and handed to the user;
left empty, root removes it with ``rmdir`` (which follows no link); anything else is removed
by a child that is that user again, so a link the command left in it cannot make root remove
anything outside it.
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
    "clone_parent",
    "descendants",
    "has_children",
    "make_workdir",
    "mark_undumpable",
    "prctl",
    "remove_workdir",
    "signal_all",
]

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
_CLONE_PARENT = 0x8000
_SYS_CLONE = {"x86_64": 56, "aarch64": 220}.get(os.uname().machine)


# Looked up once, before any fork: each lookup in a forked supervisor costs page copies.
_LIBC = ctypes.CDLL(None, use_errno=True)
_PRCTL = _LIBC.prctl
_SYSCALL = ctypes.PyDLL(None, use_errno=True).syscall  # keeps the GIL: see clone_parent
_SYSCALL.restype = ctypes.c_long


def prctl(option: int, value: int) -> None:
    if _PRCTL(option, value, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl({option}): {os.strerror(err)}")


def clone_parent() -> int:
    """fork, except that the new process is a child of this process's parent (the kernel's
    ``CLONE_PARENT``): 0 in the child, its pid in the caller, which cannot wait for it.

    A raw ``clone`` system call, not glibc's ``fork``: no ``pthread_atfork`` handlers run and
    glibc's cached thread id in the child stays the caller's, so the child must not use
    ``raise``, ``abort`` or ``pthread_kill`` (Python's ``signal.raise_signal``, ``os.abort``)
    and must not hold locks of other threads: call it only from a single-threaded process.
    ``os.fork`` in the child is fine (glibc's fork sets the grandchild's id itself). With
    the GIL held throughout (``PyDLL``), the child resumes Python exactly where the caller
    does."""
    if _SYS_CLONE is None:
        raise OSError(38, f"clone_parent: unsupported machine {os.uname().machine}")
    pid = int(
        _SYSCALL(
            ctypes.c_long(_SYS_CLONE), ctypes.c_ulong(_CLONE_PARENT | signal.SIGCHLD), 0, 0, 0, 0
        )
    )
    if pid < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"clone: {os.strerror(err)}")
    return pid


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


def has_children() -> bool:
    """Whether this process has a child, running or not yet reaped (no /proc scan)."""
    try:
        os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return False
    return True


def descendants(root: int) -> list[int]:
    """Every running (not zombie) process below ``root``, read from /proc. For this process
    with no child at all (not even one to reap) there is none: no scan then."""
    if root == os.getpid() and not has_children():
        return []
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


def make_workdir(uid: int, gid: int, *, tmpdir: str | None = None) -> str:
    """A fresh folder only ``uid`` may use, with a name nobody could guess, in ``tmpdir``
    (the command's ``TMPDIR``; by default this process's, else /tmp)."""
    base = tmpdir or os.environ.get("TMPDIR") or "/tmp"  # mkdir fails on a planted name
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
    """Remove ``workdir``: an empty folder here, at once; anything else as its user, by a
    child (whatever the command left in it, links included, is the user's to remove).

    ``rmdir`` as root is safe on a name the user could have changed (the folder is theirs, in
    a sticky /tmp): it removes only an empty folder, and a link in its place is not followed
    (ENOTDIR). It spares a fork (about 0.4 ms of the supervisor's CPU, issue 18) after every
    command that cleans up after itself."""
    try:
        os.rmdir(workdir)
    except FileNotFoundError:
        return
    except OSError:
        pass
    else:
        return
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
