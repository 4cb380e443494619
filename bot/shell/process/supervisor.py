"""The supervisor: a small process between a worker and one deploy command (Linux).

It starts the command in a new session (stdin from /dev/null, stdout and stderr the output
pipe), with ``PR_SET_PDEATHSIG(SIGKILL)`` so the command dies with it, and makes itself a
child subreaper (``PR_SET_CHILD_SUBREAPER``) so everything the command starts, ``setsid``
grandchildren included, stays below it. Its own parent is the worker. Then it watches:

- the command exits: processes it left behind get ``grace_s`` to end, then SIGTERM, then
  SIGKILL after ``grace_s`` more;
- SIGTERM (or SIGINT, SIGHUP) from the worker (a timeout, a cancelled run): every
  descendant gets SIGTERM, then SIGKILL after ``grace_s``;
- the worker dies (``PR_SET_PDEATHSIG`` sends SIGUSR1; the parent pid is also polled): every
  descendant gets SIGTERM, then SIGKILL after at most 1 s;
- with a keep-alive fd and ``silence_s``: the worker writes a byte to it while it still
  holds the deploy's lock. Silence for ``silence_s`` (the worker is stopped by SIGSTOP, its
  event loop is stuck, or it lost the lock) is treated as the worker being gone, also during
  the grace after a SIGTERM: the command must not outlive the lock that lets it run.

It exits once no descendant is left. On the status fd it writes one line per event:
``supervisor PID`` (itself, first; when nobody reads any more, the worker gave up on it and it
runs nothing), ``started PID``, ``exited CODE`` (negative: killed by that signal),
``leftovers`` (it had to stop processes left running after the command exited),
``cannot-run REASON``, and last ``cpu SECONDS`` (its own user+system CPU, not the command's).

It is forked by the worker's supervisor server (``supervisor_server``, about a millisecond;
standard library only, no import of ``bot``), which hands it the command's environment, the
output pipe and the status fd; ``supervise`` below is its whole life.

With a user (uid, gid, groups, home; the bot is root: bot/core/config/principal.py) the
command runs as that user, in a private working folder that is also its ``HOME`` unless the
user has a home of its own (bot/shell/process/proctree.py: how the user is switched, the
folder made and removed). The supervisor stays root (it signals the tree), holds none of the
bot's secrets, and is non-dumpable: a command of its user can neither ``ptrace`` it nor read
its fds.
"""

import contextlib
import os
import select
import signal
import time
from collections.abc import Mapping, Sequence

try:
    from bot.shell.process import proctree
except ImportError:  # run as a script (python -I -S): only the standard library and this folder
    import proctree  # type: ignore[import-not-found, no-redef]

__all__ = ["WATCHED", "Supervisor", "User", "executable", "supervise"]

#: The user a command runs as: uid, gid, supplementary groups, home (None: a private folder).
User = tuple[int, int, Sequence[int], str | None]
_WORKER_GONE_GRACE_S = 1.0
_PARENT_POLL_S = 0.5
_TREE_POLL_S = 0.05
_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
#: Blocked for the supervisor's whole life and taken with sigtimedwait.
WATCHED = {signal.SIGCHLD, signal.SIGUSR1, *_STOP_SIGNALS}


class Supervisor:
    def __init__(
        self,
        *,
        parent_pid: int,
        grace_s: float,
        status_fd: int,
        keepalive_fd: int | None = None,
        silence_s: float | None = None,
        user: User | None = None,
        env: Mapping[str, str],
        out_fd: int,
    ) -> None:
        self.parent_pid = parent_pid
        self.user = user
        self.workdir: str | None = None
        self.grace_s = grace_s
        self.keepalive_fd = keepalive_fd
        self.silence_s = silence_s
        self.env = env
        self.out_fd: int | None = out_fd  # the command's stdout and stderr; None once handed over
        self.heard_at = time.monotonic()
        for fd in (status_fd, keepalive_fd, out_fd):
            if fd is not None:
                os.set_inheritable(fd, False)
        self.status_fd = status_fd  # lines are short: one write each, never interleaved
        self.child: int | None = None
        self.exit_code: int | None = None
        self.leftovers = False
        self.me = os.getpid()

    def say(self, line: str) -> None:
        with contextlib.suppress(OSError):
            os.write(self.status_fd, (line + "\n").encode())

    def announce(self) -> bool:
        """The first line; False when nobody reads it (the worker gave up: run nothing)."""
        try:
            os.write(self.status_fd, f"supervisor {self.me}\n".encode())
        except OSError:
            return False
        return True

    def start(self, argv: Sequence[str], *, exe: str | None = None) -> bool:
        """fork + exec by hand (``subprocess`` is most of an interpreter's start-up time): a
        new session, stdin from /dev/null, ``PR_SET_PDEATHSIG(SIGKILL)`` so the command dies
        with this process. A failed exec is told back through a close-on-exec pipe."""
        env = dict(self.env)
        if self.user is not None:
            uid, gid, _, home = self.user
            try:
                self.workdir = proctree.make_workdir(uid, gid, tmpdir=env.get("TMPDIR"))
            except OSError as exc:
                self.say(f"cannot-run no working folder for uid {uid}: {exc}")
                return False
            env["HOME"] = home or self.workdir
        failed_r, failed_w = os.pipe()  # both close-on-exec: EOF means the exec worked
        pid = os.fork()
        if pid == 0:  # the child: only async-signal-safe steps until exec
            try:
                os.close(failed_r)
                if self.user is not None and self.workdir is not None:
                    proctree.become_user(*self.user[:3], self.workdir)
                # As subprocess's restore_signals: Python ignores SIGPIPE and SIGXFSZ, and an
                # ignored signal stays ignored across exec ('yes | head' would then fail).
                for ignored in (signal.SIGPIPE, signal.SIGXFSZ):
                    signal.signal(ignored, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_SETMASK, set())
                os.setsid()
                proctree.prctl(proctree.PR_SET_PDEATHSIG, signal.SIGKILL)
                if os.getppid() != self.me:  # the supervisor died before prctl took effect
                    os._exit(137)
                devnull = os.open(os.devnull, os.O_RDONLY)
                os.dup2(devnull, 0)
                if self.out_fd is not None:
                    os.dup2(self.out_fd, 1)
                    os.dup2(self.out_fd, 2)
                if exe is not None:
                    # Found before the fork. Should it fail here (not executable for the
                    # command's user, say), the full search below finds what execvpe finds.
                    with contextlib.suppress(OSError):
                        os.execve(exe, list(argv), env)
                os.execvpe(argv[0], list(argv), env)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.write(failed_w, (exc.strerror or str(exc)).encode()[:500])
            finally:
                os._exit(127)
        os.close(failed_w)
        with os.fdopen(failed_r, "rb") as failed:
            reason = failed.read()
        if self.out_fd is not None:  # the command's now: the output ends with its tree
            os.close(self.out_fd)
            self.out_fd = None
        if reason:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            self.say(f"cannot-run {reason.decode(errors='replace')}")
            return False
        self.child = pid
        self.say(f"started {pid}")
        return True

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.child and self.exit_code is None:
                self.exit_code = os.waitstatus_to_exitcode(status)
                self.say(f"exited {self.exit_code}")

    def worker_gone(self) -> bool:
        return os.getppid() != self.parent_pid or self.worker_silent()

    def worker_silent(self) -> bool:
        """No keep-alive byte for silence_s (or the worker closed its end)."""
        if self.keepalive_fd is None or self.silence_s is None:
            return False
        try:
            while select.select([self.keepalive_fd], [], [], 0)[0]:
                if not os.read(self.keepalive_fd, 4096):
                    return True  # the worker closed its end without finishing: gone
                self.heard_at = time.monotonic()
        except OSError:
            return True
        return time.monotonic() - self.heard_at > self.silence_s

    def wait(self, timeout_s: float) -> signal.Signals | None:
        got = signal.sigtimedwait(WATCHED, max(timeout_s, 0.0))
        return None if got is None else signal.Signals(got.si_signo)

    def stop_tree(self, grace_s: float, *, watch: bool = False) -> None:
        """SIGTERM all; SIGKILL after ``grace_s`` (``watch``: 1 s once the worker is silent)."""
        if self.child is not None and self.exit_code is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.child, signal.SIGTERM)
        proctree.signal_all(proctree.descendants(self.me), signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while (left := proctree.descendants(self.me)) and time.monotonic() < deadline:
            if watch and self.worker_gone():
                deadline, watch = min(deadline, time.monotonic() + _WORKER_GONE_GRACE_S), False
            self.wait(min(_TREE_POLL_S, deadline - time.monotonic()))
            self.reap()
        while left:  # SIGKILL until nothing is left (a process may fork meanwhile)
            proctree.signal_all(left, signal.SIGKILL)
            self.wait(_TREE_POLL_S)
            self.reap()
            left = proctree.descendants(self.me)
        self.reap()

    def run(self) -> None:
        while self.exit_code is None:
            got = self.wait(_PARENT_POLL_S)
            self.reap()
            if got == signal.SIGUSR1 or self.worker_gone():
                self.stop_tree(min(self.grace_s, _WORKER_GONE_GRACE_S))
                return
            if got in _STOP_SIGNALS:
                self.stop_tree(self.grace_s, watch=True)
                return
        # The command exited: what it left running gets grace_s to end by itself.
        deadline = time.monotonic() + self.grace_s
        while proctree.descendants(self.me):
            if time.monotonic() >= deadline or self.worker_gone():
                self.leftovers = True
                self.stop_tree(self.grace_s)
                break
            got = self.wait(min(_TREE_POLL_S, deadline - time.monotonic()))
            self.reap()
            if got is not None and got is not signal.SIGCHLD:
                deadline = 0.0  # told to stop, or the worker died: stop them now
        if self.leftovers:
            self.say("leftovers")


def executable(name: str, env: Mapping[str, str]) -> str | None:
    """The file ``execvpe`` would run for ``name`` with ``env``'s ``PATH``, found by the
    supervisor server before it clones a supervisor; None leaves the search to the command's
    own process (a path given as is, nothing found, or a relative folder in ``PATH`` before
    the match: that one depends on the command's working folder).

    Searching in the forked command (``os.execvpe`` tries each folder, raising and catching
    an error for every miss) and even in the cloned supervisor costs page faults in a fresh
    copy of a Python process: about 2.5 ms of CPU a command here (issue 18, measured by
    forking as the supervisor does: 4.6 -> 2.1 ms for ``true``). The server is long-lived,
    its pages are its own: a few ``stat`` calls there."""
    if os.sep in name:
        return None
    for folder in os.get_exec_path(env):
        if not os.path.isabs(folder):
            return None
        candidate = os.path.join(folder, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def supervise(supervisor: Supervisor, argv: Sequence[str], *, exe: str | None = None) -> None:
    """A supervisor's whole life once its signals are blocked and its ``prctl`` set: say
    who it is, start the command (``exe``: its file, when ``executable`` found it), watch
    it to the end, clean up, say its CPU."""
    if supervisor.announce() and not supervisor.worker_gone() and supervisor.start(argv, exe=exe):
        supervisor.run()
    if supervisor.user is not None and supervisor.workdir is not None:
        proctree.remove_workdir(*supervisor.user[:3], supervisor.workdir)
    if supervisor.out_fd is not None:
        with contextlib.suppress(OSError):
            os.close(supervisor.out_fd)
    supervisor.say(f"cpu {time.clock_gettime(time.CLOCK_PROCESS_CPUTIME_ID):.6f}")
    with contextlib.suppress(OSError):  # the worker may be gone: nobody reads the status
        os.close(supervisor.status_fd)
