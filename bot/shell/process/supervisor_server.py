"""The supervisor server: one long-lived process per worker that starts a supervisor
(``supervisor``) for each deploy command by forking itself, so a command costs a fork
(about a millisecond) instead of a new interpreter (about 25 ms).

    python -I -S supervisor_server.py --parent-pid P --control-fd F

Started once by the worker (``forkserver``), lazily, with the bot's tool environment (no
secret of the bot's: bot/core/config/childenv.py), in a new session, non-dumpable, with
``PR_SET_PDEATHSIG(SIGKILL)`` (it dies with the worker; the parent pid is checked again after
``prctl``, and a worker already gone ends it at once). Standard library only, no import of
``bot``: it imports its siblings from its own folder.

The protocol: F is a ``SOCK_SEQPACKET`` Unix socket. One message per command, a JSON object
``{"argv": [...], "env": {...}, "cwd": "...", "grace_s": G, "silence_s": S or null,
"user": [uid, gid, [groups], home or null] or null}``, carrying by ``SCM_RIGHTS`` the write end
of the command's status pipe, the write end of its output pipe and, when ``silence_s`` is set,
the read end of its keep-alive pipe. Nothing is answered on the socket: everything about the
command, first of all the supervisor's pid (``supervisor PID``), comes on its status pipe.

For each request the server clones itself with ``CLONE_PARENT`` (proctree.clone_parent), not
``fork``: the new supervisor is a child of the worker, exactly as a one-shot supervisor was,
which is better than the server's child in every respect that matters here:

- the worker's death reaches it directly (its ``PR_SET_PDEATHSIG(SIGUSR1)`` and its poll of
  the parent pid are about the worker, not about a server between them);
- the worker reaps it, so its pid cannot be reused while the worker holds a pidfd on it:
  signalling it by pidfd (``forkserver``) can never hit another process;
- the server holds nothing a running command needs: if it dies (killed, out of memory), the
  commands running go on, watched as before, and the next command starts a new server;
- the process tree is the same as before (worker, supervisor, command), so a command's
  ``$PPID`` is its supervisor and the supervisor's parent is the worker.

The server itself never has a child and never waits. The clone runs nothing but the
supervisor's code and leaves by ``os._exit``: it closes the control socket first, blocks the
signals it waits for, makes itself a child subreaper and sets ``PR_SET_PDEATHSIG(SIGUSR1)``,
then ``supervisor.supervise``.

Failures handled: a request that cannot be read (bad JSON, wrong fields, too many or too few
descriptors, cut short) and a clone that fails (no memory, too many processes) are answered
on the request's status pipe, when there is one, with ``cannot-run REASON``, and the server
goes on; a working folder that cannot be entered is the supervisor's ``cannot-run``. End of
file on the control socket (the worker closed it, or is gone) ends the server; so does an
error reading it. A request the worker sent that the server never read (it died first) is
lost with it: its status pipe closes without a line, and nothing ran.
"""

import contextlib
import gc
import json
import os
import signal
import socket
import sys
import traceback
from collections.abc import Sequence

try:
    from bot.shell.process import proctree, supervisor
except ImportError:  # run as a script (python -I -S): only the standard library and this folder
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import proctree  # type: ignore[import-not-found, no-redef]
    import supervisor  # type: ignore[import-not-found, no-redef]

__all__ = ["MAX_REQUEST_BYTES", "main"]

#: The largest request read; the worker refuses to send a larger one.
MAX_REQUEST_BYTES = 256 * 1024
_MAX_FDS = 3
_FAILED_EXIT = 70  # the clone raised: a bug of ours, its traceback on stderr


class _Request:
    """One command's request, checked; raises ValueError (or KeyError, TypeError) else."""

    def __init__(self, data: bytes, fds: Sequence[int], flags: int) -> None:
        if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
            raise ValueError("request cut short")
        fields = json.loads(data)
        self.argv = [str(a) for a in fields["argv"]]
        self.env = {str(k): str(v) for k, v in dict(fields["env"]).items()}
        self.cwd = str(fields["cwd"])
        self.grace_s = float(fields["grace_s"])
        silence = fields["silence_s"]
        self.silence_s = None if silence is None else float(silence)
        self.user: supervisor.User | None = None
        if (user := fields["user"]) is not None:
            uid, gid, groups, home = user
            self.user = (int(uid), int(gid), [int(g) for g in groups], home and str(home))
        if not self.argv or len(fds) != (2 if self.silence_s is None else 3):
            raise ValueError("no argv, or not the descriptors it needs")
        self.status_fd, self.out_fd = fds[0], fds[1]
        self.keepalive_fd = fds[2] if self.silence_s is not None else None


def _refuse(fds: Sequence[int], reason: str) -> None:
    if fds:
        with contextlib.suppress(OSError):
            os.write(fds[0], f"cannot-run {reason}\n".encode())
    for fd in fds:
        os.close(fd)


def _supervise(control: socket.socket, request: _Request, parent_pid: int, exe: str | None) -> None:
    """The clone's whole life: the supervisor of one command."""
    control.close()  # only this process's copy: the server keeps reading
    signal.pthread_sigmask(signal.SIG_BLOCK, supervisor.WATCHED)
    proctree.prctl(proctree.PR_SET_CHILD_SUBREAPER, 1)
    proctree.prctl(proctree.PR_SET_PDEATHSIG, signal.SIGUSR1)
    watcher = supervisor.Supervisor(
        parent_pid=parent_pid,
        grace_s=request.grace_s,
        status_fd=request.status_fd,
        keepalive_fd=request.keepalive_fd,
        silence_s=request.silence_s,
        user=request.user,
        env=request.env,
        out_fd=request.out_fd,
    )
    try:
        os.chdir(request.cwd)
    except OSError as exc:
        if watcher.announce():
            watcher.say(f"cannot-run cannot enter {request.cwd}: {exc.strerror}")
        watcher.say("cpu 0")
        return
    supervisor.supervise(watcher, request.argv, exe=exe)


def _serve(control: socket.socket, parent_pid: int) -> bool:
    """Read one request and start its supervisor; False at the end of the control socket."""
    try:
        data, fds, flags, _ = socket.recv_fds(
            control, MAX_REQUEST_BYTES, _MAX_FDS, socket.MSG_CMSG_CLOEXEC
        )
    except OSError:
        return False
    if not data and not fds:
        return False
    try:
        request = _Request(data, fds, flags)
    except (ValueError, KeyError, TypeError) as exc:
        _refuse(fds, f"bad request to the supervisor server: {exc}")
        return True
    exe = supervisor.executable(request.argv[0], request.env)  # here: no page is copied
    try:
        pid = proctree.clone_parent()
    except OSError as exc:
        _refuse(fds, f"cannot start a supervisor: {exc.strerror or exc}")
        return True
    if pid == 0:  # the clone: never back into this loop
        # No garbage collection in the clone: a collection walks (so copies, page by page)
        # every object inherited from the server, and the supervisor's loop makes no
        # reference cycle worth it (issue 18: 4.3 -> 3.6 ms of CPU per command, measured).
        gc.disable()
        code = 0
        try:
            _supervise(control, request, parent_pid, exe)
        except BaseException:
            code = _FAILED_EXIT
            with contextlib.suppress(BaseException):
                traceback.print_exc()
        finally:
            os._exit(code)
    for fd in fds:
        os.close(fd)
    return True


def main(args: Sequence[str] | None = None) -> int:
    given = sys.argv[1:] if args is None else list(args)
    options = dict(zip(given[::2], given[1::2], strict=False))
    parent_pid = int(options["--parent-pid"])
    control_fd = int(options["--control-fd"])
    proctree.prctl(proctree.PR_SET_DUMPABLE, 0)
    proctree.prctl(proctree.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the worker died before PR_SET_PDEATHSIG took effect
        return 0
    os.set_inheritable(control_fd, False)
    control = socket.socket(fileno=control_fd)
    gc.freeze()  # what is loaded now is never collected: a clone's writes copy fewer pages
    while _serve(control, parent_pid):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
