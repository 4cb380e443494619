"""Supervision, as the worker sees it: what a supervisor is asked to run (``Request``), a
running supervisor (``Supervised``: its status lines, its output, signalling it, its exit)
and who starts them (``Supervisors``: the supervisor server of ``forkserver``; a test may
bring its own), waiting for the end, stopping it and what it runs, and the worker's
keep-alive beats to it.

See bot/shell/process/supervisor.py for the supervisor itself and its status lines.
"""

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from bot.core.thread.deploy_result import Keepalive
from bot.shell.process.supervisor import User

__all__ = [
    "Request",
    "Supervised",
    "SupervisorStatus",
    "Supervisors",
    "beat",
    "exited",
    "finish",
    "send_signal",
    "settled",
    "stop",
]

log = logging.getLogger(__name__)

_POLL_S = 0.05
_LOST_EXIT_S = 2.0  # how long a vanished child may go unreported
_SETTLE_AFTER_KILL_S = 1.0
_SUPERVISOR_SLACK_S = 3.0  # beyond its own grace periods, before the supervisor is killed


@dataclass(frozen=True, kw_only=True)
class Request:
    """One command to supervise: its argv, environment and working folder, the grace before
    SIGKILL, the keep-alive pipe's read end with the silence that means the worker is gone
    (both or neither; the caller keeps and closes its descriptor), and who runs it."""

    argv: list[str]
    env: dict[str, str]
    cwd: str
    grace_s: float
    keepalive_fd: int | None = None
    silence_s: float | None = None
    user: User | None = None


class SupervisorStatus:
    """The supervisor's status lines (see bot/shell/process/supervisor.py), read as they come."""

    def __init__(self, fd: int) -> None:
        os.set_blocking(fd, False)
        self._fd = fd
        self._buf = b""
        self._closed = False
        self.supervisor_pid: int | None = None
        self.cpu_s: float | None = None
        self.pid: int | None = None
        self.exit_code: int | None = None
        self.cannot_run: str | None = None
        self.leftovers = False
        self._changed = asyncio.Event()
        asyncio.get_running_loop().add_reader(fd, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self._fd, 4096)
        except BlockingIOError:
            return
        if not data:
            self.close()
        self._buf += data
        *lines, self._buf = self._buf.split(b"\n")
        for line in lines:
            word, _, rest = line.decode(errors="replace").partition(" ")
            match word:
                case "supervisor":
                    self.supervisor_pid = int(rest)
                case "cpu":
                    self.cpu_s = float(rest)
                case "started":
                    self.pid = int(rest)
                case "exited":
                    self.exit_code = int(rest)
                case "cannot-run":
                    self.cannot_run = rest
                case "leftovers":
                    self.leftovers = True
                case _:
                    log.warning("unknown supervisor status line %r", line)
        self._changed.set()

    async def until_exit(self) -> None:
        """Until the command exited (or could not start, or the supervisor is gone)."""
        await self._until(lambda: self.exit_code is not None or self.cannot_run is not None)

    async def until_supervisor(self) -> None:
        """Until the supervisor said its pid (or its status pipe closed without it)."""
        await self._until(lambda: self.supervisor_pid is not None)

    async def until_closed(self) -> None:
        await self._until(lambda: False)

    async def _until(self, said: Callable[[], bool]) -> None:
        """Until ``said()`` holds or the status pipe is closed."""
        while not said() and not self._closed:
            self._changed.clear()
            await self._changed.wait()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            asyncio.get_running_loop().remove_reader(self._fd)
            os.close(self._fd)
            self._changed.set()


async def settled(reader: asyncio.Task[None], wait_s: float) -> None:
    """Wait up to ``wait_s`` for the output to close; then stop reading."""
    await asyncio.wait({reader}, timeout=wait_s)
    if not reader.done():
        reader.cancel()  # someone outside the command's tree holds the output open
        await asyncio.wait({reader})


async def exited(proc: asyncio.subprocess.Process) -> None:
    """Return as soon as the process itself exits. (``proc.wait()`` also waits for its
    output to close, which a left-behind background process can hold open.)"""
    waiter = asyncio.ensure_future(proc.wait())
    gone_polls = 0
    try:
        while proc.returncode is None:
            await asyncio.wait({waiter}, timeout=_POLL_S)
            # The exit is reported by asyncio's child watcher. If the process no longer
            # exists and no report came for a while, the report was lost (seen once under
            # load): stop waiting rather than hang the worker for ever.
            try:
                os.kill(proc.pid, 0)
                gone_polls = 0
            except ProcessLookupError:
                gone_polls += 1
                if gone_polls * _POLL_S >= _LOST_EXIT_S:
                    log.error("exit of pid %d was never reported; giving up on it", proc.pid)
                    return
            except PermissionError:
                gone_polls = 0
    finally:
        waiter.cancel()


def send_signal(pid: int, sig: signal.Signals, *, group: bool) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


class Supervised(Protocol):
    """A running supervisor as the worker holds it."""

    @property
    def status(self) -> SupervisorStatus: ...

    @property
    def output(self) -> asyncio.StreamReader:
        """The command's stdout and stderr, merged."""
        ...

    async def signal(self, sig: signal.Signals) -> None:
        """Signal the supervisor itself (no error once it is gone)."""

    async def exited(self) -> None:
        """Return as soon as the supervisor process has exited (reaped)."""

    def close(self) -> None:
        """Let go of its output and of the process (reaped later if it still runs)."""


class Supervisors(Protocol):
    """Who starts supervisors."""

    async def start(self, request: Request) -> Supervised:
        """A supervisor running ``request`` (OSError: none could be started)."""
        ...

    def cpu_s(self) -> float:
        """The CPU seconds spent by the supervisors started so far, their own only."""
        ...

    async def close(self) -> None:
        """Stop what lives between commands (the commands running go on)."""


async def finish(
    supervised: Supervised, reader: asyncio.Task[None], *, limit_s: float, grace_s: float
) -> None:
    """The command exited: wait for the supervisor to stop what it left running."""
    try:
        async with asyncio.timeout(limit_s + _SUPERVISOR_SLACK_S):
            await supervised.exited()
    except TimeoutError:
        await stop(supervised, reader, grace_s=grace_s)
        return
    await supervised.status.until_closed()
    await settled(reader, _SETTLE_AFTER_KILL_S)


async def stop(supervised: Supervised, reader: asyncio.Task[None], *, grace_s: float) -> None:
    """Ask the supervisor to stop everything (SIGTERM, SIGKILL after ``grace_s``); if it
    does not finish in time, SIGKILL it and the command's group."""
    events = supervised.status
    await supervised.signal(signal.SIGTERM)
    try:
        async with asyncio.timeout(grace_s + _SUPERVISOR_SLACK_S):
            await supervised.exited()
    except TimeoutError:
        log.error(
            "supervisor %s did not stop the command in time; killing it", events.supervisor_pid
        )
        await supervised.signal(signal.SIGKILL)
        if events.pid is not None:
            send_signal(events.pid, signal.SIGKILL, group=True)
        await supervised.exited()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(_SETTLE_AFTER_KILL_S):
            await events.until_closed()
    await settled(reader, _SETTLE_AFTER_KILL_S)


async def beat(fd: int, keepalive: Keepalive, *, every_s: float) -> None:
    """Tell the supervisor the worker is alive, while ``keepalive`` says it may run."""
    while True:
        if keepalive.fresh():
            with contextlib.suppress(OSError):  # the supervisor is gone: nothing to tell
                os.write(fd, b".")
        await asyncio.sleep(every_s)
