"""The worker's side of the supervisor server (bot/shell/process/supervisor_server.py: the
protocol and why its supervisors are the worker's own children).

``SupervisorServer`` starts the server lazily, on the first command, with no secret in its
environment (a bare ``PATH``), and from then on sends it one request per command: three pipes
are made here (status, output, and the caller's keep-alive read end is passed along), their
write ends go to the server by ``SCM_RIGHTS`` and are closed here at once, so the status and
output pipes end when the supervisor and its command's tree are gone. ``ForkedSupervisor``
is what the deployer holds: the status lines, the output as a stream, signals sent through a
pidfd opened on the pid of the ``supervisor PID`` line (the supervisor is this process's own
child and is reaped only by ``exited``/``close`` here, so the pidfd can never name another
process; it is also checked to be our child before any signal), and its exit (the pidfd
readable, then reaped with ``waitid``).

Failures handled:

- the server is not running, or died (killed, out of memory): the next command starts a new
  one. A send that failed because the server was gone (EPIPE, ECONNRESET) was not queued and
  goes to the new server; a request it may have read is never sent again;
- the server died with requests it had not read: their status pipes close without a line;
  the deployer reports that the command could not run (nothing ran);
- the server does not start a supervisor (stopped, stuck) while the worker wants to stop it:
  after ``_ANNOUNCE_S`` the server is killed, so the request is dropped or its supervisor
  announces itself (then it is signalled); a supervisor that finds nobody reading its status
  pipe runs nothing;
- a request too large for the socket (over ``MAX_REQUEST_BYTES``), a server that cannot be
  started: OSError, the deploy fails with it;
- a fork of this process: the copy starts a server of its own (the socketpair is this
  process's).

CPU: ``cpu_s`` sums every finished supervisor's own CPU (its ``cpu`` line) and the server's
(``/proc/PID/schedstat``), for the benchmark. Used from one thread (the worker's loop), from
any number of event loops one after another (tests): nothing here outlives a command but
the server process and its socket.
"""

import asyncio
import contextlib
import errno
import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

from bot.shell.process.forked import ForkedSupervisor, until_ready
from bot.shell.process.supervisor_link import Request, SupervisorStatus
from bot.shell.process.supervisor_server import MAX_REQUEST_BYTES

__all__ = ["SupervisorServer", "default_server"]

log = logging.getLogger(__name__)

_SCRIPT = str(Path(__file__).with_name("supervisor_server.py"))
_CLOSE_WAIT_S = 2.0


class SupervisorServer:
    """One supervisor server for this process, started on first use."""

    def __init__(self, *, python: str = sys.executable) -> None:
        self._python = python
        self._proc: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._owner = 0  # the pid that started it: a forked copy of this process starts its own
        self._retired_s = 0.0  # servers gone: their CPU when last read
        self.spent_s = 0.0  # finished supervisors' own CPU

    @property
    def pid(self) -> int | None:
        """The running server's pid (None before the first command and after ``close``)."""
        return self._proc.pid if self._proc is not None and self._owner == os.getpid() else None

    def cpu_s(self) -> float:
        """CPU seconds: every finished supervisor's own, and the servers' own."""
        return self.spent_s + self._retired_s + self._server_cpu_s()

    def _server_cpu_s(self) -> float:
        if (pid := self.pid) is None:
            return 0.0
        try:
            return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            return 0.0

    async def start(self, request: Request) -> ForkedSupervisor:
        keepalive_fd = request.keepalive_fd if request.silence_s is not None else None
        data = json.dumps(
            {
                "argv": request.argv,
                "env": request.env,
                "cwd": request.cwd,
                "grace_s": request.grace_s,
                "silence_s": request.silence_s if keepalive_fd is not None else None,
                "user": request.user,
            }
        ).encode()
        if len(data) > MAX_REQUEST_BYTES:
            raise OSError(errno.E2BIG, "argv and environment too large for the supervisor server")
        status_r, status_w = os.pipe()
        out_r, out_w = os.pipe()
        fds = [status_w, out_w] if keepalive_fd is None else [status_w, out_w, keepalive_fd]
        try:
            await self._send(data, fds)
            status = SupervisorStatus(status_r)
        except BaseException:
            os.close(status_r)
            os.close(out_r)
            raise
        finally:
            os.close(status_w)
            os.close(out_w)
        loop = asyncio.get_running_loop()
        output = asyncio.StreamReader(loop=loop)
        try:
            transport, _ = await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(output, loop=loop),
                os.fdopen(out_r, "rb", buffering=0),
            )
        except BaseException:
            status.close()
            raise
        return ForkedSupervisor(
            status=status,
            output=output,
            transport=transport,
            on_stuck=self.kill,
            on_cpu=self._spent,
        )

    def _spent(self, cpu_s: float) -> None:
        self.spent_s += cpu_s

    async def _send(self, data: bytes, fds: list[int]) -> None:
        for last in (False, True):
            control = self._running()
            try:
                while True:
                    try:
                        socket.send_fds(control, [data], fds)
                        return
                    except BlockingIOError:
                        await until_ready(control, write=True)
            except (BrokenPipeError, ConnectionResetError, ConnectionRefusedError):
                self._retire()  # not queued: the server was gone before it; its successor
                if last:
                    raise

    def _running(self) -> socket.socket:
        if self._owner != os.getpid():
            self._proc, self._control = None, None  # a forked copy: that server is not ours
        elif self._proc is not None and self._proc.poll() is not None:
            self._retire()
        if self._control is None:
            self._launch()
        assert self._control is not None
        return self._control

    def _launch(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._proc = subprocess.Popen(  # noqa: S603 - our own script, no shell
                [
                    self._python,
                    "-I",
                    "-S",
                    _SCRIPT,
                    "--parent-pid",
                    str(os.getpid()),
                    "--control-fd",
                    str(theirs.fileno()),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env={"PATH": os.defpath},  # nothing of the bot's environment
                cwd="/",
                pass_fds=(theirs.fileno(),),
                start_new_session=True,  # a signal to the worker's group is the worker's
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.setblocking(False)
        self._control, self._owner = ours, os.getpid()
        log.info("supervisor server %d started", self._proc.pid)

    def kill(self) -> None:
        """Kill the server (it started nothing when asked): running commands go on."""
        if self._proc is not None and self._owner == os.getpid():
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()
        self._retire()

    def _retire(self) -> None:
        """Forget the server (it is gone or going), reaping it."""
        self._retired_s += self._server_cpu_s()
        if self._control is not None:
            self._control.close()
        proc, self._proc, self._control = self._proc, None, None
        if proc is not None and self._owner == os.getpid():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=_CLOSE_WAIT_S)  # it exits at the end of its socket

    async def close(self) -> None:
        """Stop the server (end of its socket); the commands running go on to their end."""
        self._retired_s += self._server_cpu_s()
        if self._control is not None:
            self._control.close()
            self._control = None
        proc, self._proc = self._proc, None
        if proc is None or self._owner != os.getpid():
            return
        for _ in range(int(_CLOSE_WAIT_S / 0.01)):  # it exits at once at the end of its socket
            if proc.poll() is not None:
                return
            await asyncio.sleep(0.01)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


_DEFAULT: SupervisorServer | None = None


def default_server() -> SupervisorServer:
    """This process's supervisor server (one per worker process), made on first use."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = SupervisorServer()
    return _DEFAULT
