"""Supervisors started the way every deploy started one before the supervisor server: a new
Python interpreter per command (bot/shell/process/supervisor_oneshot.py), about 25 ms of wall
time and 18 ms of CPU each, plus a fork of the worker. Kept as the benchmark's "before"
(bench/run_as.py) and for whoever wants no long-lived server.

The interpreter runs with the command's environment and working folder as its own; its stdout
and stderr are the output pipe, its status line pipe and keep-alive read end are passed by
descriptor number. It is started in a new session (a signal to the worker's group is the
worker's) and signalled by pid: asyncio's child watcher reaps it, so the pid stays ours until
``exited`` has returned. A start that fails raises OSError, the status pipe closed.
"""

import asyncio
import contextlib
import os
import signal

from bot.shell.process.supervisor_link import Request, SupervisorStatus, exited, send_signal
from bot.shell.process.supervisor_oneshot import supervised_argv

__all__ = ["OneShotSupervisors"]


class _OneShot:
    def __init__(
        self,
        *,
        proc: asyncio.subprocess.Process,
        status: SupervisorStatus,
        owner: "OneShotSupervisors",
    ) -> None:
        assert proc.stdout is not None
        self._proc = proc
        self._status = status
        self._output = proc.stdout
        self._owner = owner
        self._counted = False

    @property
    def status(self) -> SupervisorStatus:
        return self._status

    @property
    def output(self) -> asyncio.StreamReader:
        return self._output

    async def signal(self, sig: signal.Signals) -> None:
        if self._proc.returncode is None:
            send_signal(self._proc.pid, sig, group=False)

    async def exited(self) -> None:
        await exited(self._proc)

    def close(self) -> None:
        if not self._counted and self._status.cpu_s is not None:
            self._counted = True
            self._owner.spent_s += self._status.cpu_s


class OneShotSupervisors:
    """A new interpreter per command."""

    def __init__(self) -> None:
        self.spent_s = 0.0

    def cpu_s(self) -> float:
        return self.spent_s

    async def start(self, request: Request) -> _OneShot:
        status_r, status_w = os.pipe()
        keepalive = request.keepalive_fd if request.silence_s is not None else None
        pass_fds = (status_w,) if keepalive is None else (status_w, keepalive)
        try:
            proc = await asyncio.create_subprocess_exec(
                *supervised_argv(
                    request.argv,
                    grace_s=request.grace_s,
                    status_fd=status_w,
                    keepalive_fd=keepalive,
                    silence_s=request.silence_s if keepalive is not None else None,
                    user=request.user,
                ),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=request.env,
                cwd=request.cwd,
                start_new_session=True,  # a signal to the worker's group is the worker's
                pass_fds=pass_fds,
            )
        except BaseException:
            os.close(status_r)
            raise
        finally:
            os.close(status_w)
        try:
            return _OneShot(proc=proc, status=SupervisorStatus(status_r), owner=self)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            raise

    async def close(self) -> None:
        """Nothing lives between commands."""
