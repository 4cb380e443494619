"""The supervisor: a small process between a worker and a deploy command (Linux).

    python -I -S supervisor.py --parent-pid P --grace-s G --status-fd N -- ARGV...
It starts ARGV in a new session (stdin from /dev/null, stdout and stderr its own), with
``PR_SET_PDEATHSIG(SIGKILL)`` so the command dies with it, and makes itself a child
subreaper (``PR_SET_CHILD_SUBREAPER``) so everything the command starts, ``setsid``
grandchildren included, stays below it. Then it watches:

- the command exits: processes it left behind get ``grace_s`` to end, then SIGTERM, then
  SIGKILL after ``grace_s`` more;
- SIGTERM (or SIGINT, SIGHUP) from the worker (a timeout, a cancelled run): every
  descendant gets SIGTERM, then SIGKILL after ``grace_s``;
- the worker dies (``PR_SET_PDEATHSIG`` sends SIGUSR1; the parent pid is also polled): every
  descendant gets SIGTERM, then SIGKILL after at most 1 s;
- with ``--keepalive-fd F --silence-s S``: the worker writes a byte to F while it still
  holds the deploy's lock. Silence for S seconds (the worker is stopped by SIGSTOP, its event
  loop is stuck, or it lost the lock) is treated as the worker being gone, also during the
  grace after a SIGTERM: the command must not outlive the lock that lets it run.

It exits once no descendant is left. On the status fd it writes one line per event:
``started PID``, ``exited CODE`` (negative: killed by that signal), ``leftovers`` (it had
to stop processes left running after the command exited), ``cannot-run REASON``. Standard
library only, no import of ``bot``: it runs with the command's environment.

With ``--uid U --gid G --groups A,B [--home H]`` (the bot is root: bot/core/config/principal.py)
the command runs as that user, in a private working folder that is also its ``HOME`` unless
``--home`` names one (bot/shell/process/proctree.py: how the user is switched, the folder made and
removed). The supervisor stays root (it signals the tree), holds none of the bot's secrets,
and is non-dumpable: a command of its user can neither ``ptrace`` it nor read its fds.
"""

import contextlib
import os
import select
import signal
import sys
import time
from collections.abc import Sequence

try:
    from bot.shell.process import proctree
except ImportError:  # run as a script (python -I -S): only the standard library and this folder
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import proctree  # type: ignore[import-not-found, no-redef]

__all__ = ["User", "main", "supervised_argv"]

#: The user a command runs as: uid, gid, supplementary groups, home (None: a private folder).
User = tuple[int, int, Sequence[int], str | None]
_WORKER_GONE_GRACE_S = 1.0
_PARENT_POLL_S = 0.5
_TREE_POLL_S = 0.05
_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
_WATCHED = {signal.SIGCHLD, signal.SIGUSR1, *_STOP_SIGNALS}


def supervised_argv(
    argv: Sequence[str],
    *,
    grace_s: float,
    status_fd: int,
    keepalive_fd: int | None = None,
    silence_s: float | None = None,
    user: User | None = None,
) -> list[str]:
    """The argv that runs ``argv`` under a supervisor watching the calling process
    (``user``: uid, gid, groups and home to run the command as)."""
    keepalive = (
        ["--keepalive-fd", str(keepalive_fd), "--silence-s", repr(silence_s)]
        if keepalive_fd is not None and silence_s is not None
        else []
    )
    if user is not None:
        uid, gid, groups, home = user
        keepalive += ["--uid", str(uid), "--gid", str(gid)]
        keepalive += ["--groups", ",".join(map(str, groups)) or "-"]
        keepalive += ["--home", home] if home else []
    return [
        sys.executable,
        "-I",  # ignores PYTHON* variables and the user's site-packages
        "-S",  # no site module either: the supervisor uses the standard library only
        os.path.abspath(__file__),
        "--parent-pid",
        str(os.getpid()),
        "--grace-s",
        repr(grace_s),
        "--status-fd",
        str(status_fd),
        *keepalive,
        "--",
        *argv,
    ]


class _Supervisor:
    def __init__(
        self,
        *,
        parent_pid: int,
        grace_s: float,
        status_fd: int,
        keepalive_fd: int | None = None,
        silence_s: float | None = None,
        user: User | None = None,
    ) -> None:
        self.parent_pid = parent_pid
        self.user = user
        self.workdir: str | None = None
        self.grace_s = grace_s
        self.keepalive_fd = keepalive_fd
        self.silence_s = silence_s
        self.heard_at = time.monotonic()
        self.status = os.fdopen(status_fd, "w", buffering=1)
        self.child: int | None = None
        self.exit_code: int | None = None
        self.leftovers = False
        self.me = os.getpid()

    def say(self, line: str) -> None:
        with contextlib.suppress(OSError):
            self.status.write(line + "\n")

    def start(self, argv: Sequence[str]) -> bool:
        """fork + exec by hand (``subprocess`` is most of this process's start-up time): a
        new session, stdin from /dev/null, ``PR_SET_PDEATHSIG(SIGKILL)`` so the command dies
        with this process. A failed exec is told back through a close-on-exec pipe."""
        env = os.environ.copy()
        if self.user is not None:
            uid, gid, _, home = self.user
            try:
                self.workdir = proctree.make_workdir(uid, gid)
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
                os.execvpe(argv[0], list(argv), env)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.write(failed_w, (exc.strerror or str(exc)).encode()[:500])
            finally:
                os._exit(127)
        os.close(failed_w)
        with os.fdopen(failed_r, "rb") as failed:
            reason = failed.read()
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
        got = signal.sigtimedwait(_WATCHED, max(timeout_s, 0.0))
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


class _Args:
    """The command line ``supervised_argv`` writes (by hand: argparse is slow to import)."""

    def __init__(self, args: Sequence[str]) -> None:
        if "--" not in args or args.index("--") == len(args) - 1:
            raise SystemExit("supervisor: usage: --parent-pid P --grace-s G --status-fd N -- ARGV")
        split = args.index("--")
        options = dict(zip(args[:split:2], args[1:split:2], strict=True))
        self.argv = list(args[split + 1 :])
        self.parent_pid = int(options["--parent-pid"])
        self.grace_s = float(options["--grace-s"])
        self.status_fd = int(options["--status-fd"])
        keepalive = options.get("--keepalive-fd")
        silence = options.get("--silence-s")
        self.keepalive_fd = int(keepalive) if keepalive is not None else None
        self.silence_s = float(silence) if silence is not None else None
        self.user: User | None = None
        if (uid := options.get("--uid")) is not None:
            groups = [int(g) for g in options.get("--groups", "").split(",") if g.isdigit()]
            gid = int(options["--gid"])
            self.user = (int(uid), gid, groups, options.get("--home"))


def main(args: Sequence[str] | None = None) -> int:
    ns = _Args(sys.argv[1:] if args is None else args)
    signal.pthread_sigmask(signal.SIG_BLOCK, _WATCHED)
    proctree.prctl(proctree.PR_SET_DUMPABLE, 0)
    proctree.prctl(proctree.PR_SET_CHILD_SUBREAPER, 1)
    proctree.prctl(proctree.PR_SET_PDEATHSIG, signal.SIGUSR1)
    supervisor = _Supervisor(
        parent_pid=ns.parent_pid,
        grace_s=ns.grace_s,
        status_fd=ns.status_fd,
        keepalive_fd=ns.keepalive_fd,
        silence_s=ns.silence_s,
        user=ns.user,
    )
    os.set_inheritable(ns.status_fd, False)
    if ns.keepalive_fd is not None:
        os.set_inheritable(ns.keepalive_fd, False)
    if supervisor.worker_gone():  # the worker died before PR_SET_PDEATHSIG was set
        return 0
    if supervisor.start(ns.argv):
        supervisor.run()
    if supervisor.user is not None and supervisor.workdir is not None:
        proctree.remove_workdir(*supervisor.user[:3], supervisor.workdir)
    with contextlib.suppress(OSError):  # the worker may be gone: nobody reads the status
        supervisor.status.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
