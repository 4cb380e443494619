"""The one-shot supervisor: a new interpreter per command, the way every deploy ran before the
supervisor server (``supervisor_server``); kept as the benchmark's "before" and as a way to
run one supervised command without a server.

    python -I -S supervisor_oneshot.py --parent-pid P --grace-s G --status-fd N
        [--keepalive-fd F --silence-s S] [--uid U --gid G --groups A,B [--home H]] -- ARGV...

Started by the worker (``oneshot``) with the command's environment and working folder as its
own and its stdout and stderr as the output pipe, it is the supervisor of ``supervisor`` (its
guarantees and status lines) with the parent pid polled, the status fd, the keep-alive fd and
the user from its command line. Standard library only, no import of ``bot``: it runs as a
script with ``python -I -S`` and imports its siblings from its own folder. A command line
without ``-- ARGV`` ends it with a usage line (status 1) before anything runs.
"""

import os
import signal
import sys
from collections.abc import Sequence

try:
    from bot.shell.process import proctree, supervisor
except ImportError:  # run as a script (python -I -S): only the standard library and this folder
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import proctree  # type: ignore[import-not-found, no-redef]
    import supervisor  # type: ignore[import-not-found, no-redef]

__all__ = ["main", "supervised_argv"]


def supervised_argv(
    argv: Sequence[str],
    *,
    grace_s: float,
    status_fd: int,
    keepalive_fd: int | None = None,
    silence_s: float | None = None,
    user: supervisor.User | None = None,
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
        self.user: supervisor.User | None = None
        if (uid := options.get("--uid")) is not None:
            groups = [int(g) for g in options.get("--groups", "").split(",") if g.isdigit()]
            gid = int(options["--gid"])
            self.user = (int(uid), gid, groups, options.get("--home"))


def main(args: Sequence[str] | None = None) -> int:
    ns = _Args(sys.argv[1:] if args is None else args)
    signal.pthread_sigmask(signal.SIG_BLOCK, supervisor.WATCHED)
    proctree.prctl(proctree.PR_SET_DUMPABLE, 0)
    proctree.prctl(proctree.PR_SET_CHILD_SUBREAPER, 1)
    proctree.prctl(proctree.PR_SET_PDEATHSIG, signal.SIGUSR1)
    supervisor.supervise(
        supervisor.Supervisor(
            parent_pid=ns.parent_pid,
            grace_s=ns.grace_s,
            status_fd=ns.status_fd,
            keepalive_fd=ns.keepalive_fd,
            silence_s=ns.silence_s,
            user=ns.user,
        ),
        ns.argv,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
