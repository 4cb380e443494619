"""One command's supervisor as the worker holds it when the supervisor server
(``forkserver``) forked it: its status lines, its output as a stream, signals and its exit.

The supervisor is this process's own child (bot/shell/process/supervisor_server.py says why)
and is reaped only here, by ``exited`` or after ``close``: until then its pid cannot be
reused, and signals go through a pidfd opened on the pid of its ``supervisor PID`` line and
checked to be this process's child (``waitid`` with ``WNOWAIT``), so a signal can never reach
another process. Its exit is the pidfd becoming readable.

Failures handled: no ``supervisor PID`` line within ``_ANNOUNCE_S`` when it must be signalled
(the server is stopped or stuck): ``on_stuck`` kills the server, after which the request is
dropped (the status pipe closes: nothing ran, nothing to signal) or its supervisor says its
pid. A pid that is gone or not our child is not signalled. Closed while still running (the
caller gave up): it is reaped when it exits.
"""

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Callable

from bot.shell.process.supervisor_link import SupervisorStatus

__all__ = ["ForkedSupervisor", "until_ready"]

log = logging.getLogger(__name__)

_ANNOUNCE_S = 2.0  # a live server starts a supervisor in about a millisecond
_WAITED = os.WEXITED | os.WNOHANG


class ForkedSupervisor:
    """One command's supervisor, forked by the server."""

    def __init__(
        self,
        *,
        status: SupervisorStatus,
        output: asyncio.StreamReader,
        transport: asyncio.ReadTransport,
        on_stuck: Callable[[], None],
        on_cpu: Callable[[float], None],
    ) -> None:
        self._on_stuck = on_stuck
        self._on_cpu = on_cpu
        self._status = status
        self._output = output
        self._transport = transport
        self._pidfd: int | None = None
        self._known = False  # the pid is settled: announced (pidfd open) or never will be
        self._reaped = False
        self._counted = False

    @property
    def status(self) -> SupervisorStatus:
        return self._status

    @property
    def output(self) -> asyncio.StreamReader:
        return self._output

    async def _announced(self) -> bool:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_ANNOUNCE_S):
                await self._status.until_supervisor()
                return True
        return False

    async def _fd(self) -> int | None:
        """The pidfd of the supervisor; None when it never started (or is not ours)."""
        if self._known:
            return self._pidfd
        if self._status.supervisor_pid is None and not await self._announced():
            log.error("the supervisor server started nothing in %.0f s; killing it", _ANNOUNCE_S)
            self._on_stuck()  # the request dies with it, or its supervisor says its pid
            await self._announced()
        self._known = True
        if (pid := self._status.supervisor_pid) is None:
            return None
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            return None
        try:
            # ChildProcessError: not ours. WNOHANG: never blocks.
            os.waitid(os.P_PIDFD, fd, _WAITED | os.WNOWAIT)  # noqa: ASYNC222
        except ChildProcessError:
            os.close(fd)
            log.error("supervisor pid %d is not this process's child; not signalling it", pid)
            return None
        self._pidfd = fd
        return fd

    async def signal(self, sig: signal.Signals) -> None:
        fd = await self._fd()
        if fd is not None and not self._reaped:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(fd, sig)

    async def exited(self) -> None:
        fd = await self._fd()
        if fd is None or self._reaped:
            return
        await until_ready(fd)
        self._reap(fd)

    def _reap(self, fd: int) -> bool:
        try:
            if os.waitid(os.P_PIDFD, fd, _WAITED) is None:
                return False  # still running
        except ChildProcessError:
            pass  # reaped by someone else (SIGCHLD ignored): gone all the same
        self._reaped = True
        return True

    def close(self) -> None:
        self._transport.close()
        if not self._counted and self._status.cpu_s is not None:
            self._counted = True
            self._on_cpu(self._status.cpu_s)
        fd, self._pidfd, self._known = self._pidfd, None, True
        if fd is None:
            return
        if self._reaped or self._reap(fd):
            os.close(fd)
            return
        loop = asyncio.get_running_loop()  # still running: reap it when it exits

        def reap_late() -> None:
            if self._reap(fd):
                loop.remove_reader(fd)
                os.close(fd)

        loop.add_reader(fd, reap_late)


async def until_ready(fd: int | socket.socket, *, write: bool = False) -> None:
    """Until ``fd`` is readable (``write``: writable), on the running loop."""
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    (loop.add_writer if write else loop.add_reader)(fd, _settle, ready)
    try:
        await ready
    finally:
        (loop.remove_writer if write else loop.remove_reader)(fd)


def _settle(future: "asyncio.Future[None]") -> None:
    if not future.done():
        future.set_result(None)
