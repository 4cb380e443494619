"""``bot.shell.process.supervisor_link`` on its own, over a pipe standing in for the
supervisor's status descriptor: status lines are read as they come (also split across
writes), an unknown line is logged and skipped, the supervisor's exit (its end of the pipe
closed) ends every wait; the keep-alive beats go out only while the worker may run; a signal
to a process that is gone is no error; ``exited`` returns when a real process exits."""

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from bot.shell.process.supervisor_link import SupervisorStatus, beat, exited, send_signal


@dataclass
class Pipe:
    """A pipe whose ends are closed once, by whoever closes them first (a descriptor closed
    twice could be another's by then)."""

    read_fd: int
    write_fd: int
    open_fds: set[int]

    def close(self, fd: int) -> None:
        if fd in self.open_fds:
            self.open_fds.discard(fd)
            os.close(fd)

    def status(self) -> SupervisorStatus:
        self.open_fds.discard(self.read_fd)  # SupervisorStatus closes it
        return SupervisorStatus(self.read_fd)


@pytest.fixture
def pipe() -> Iterator[Pipe]:
    read_fd, write_fd = os.pipe()
    ends = Pipe(read_fd, write_fd, {read_fd, write_fd})
    yield ends
    for fd in list(ends.open_fds):
        ends.close(fd)


def drain(fd: int) -> bytes:
    """Everything written to ``fd``'s pipe so far (its read end non-blocking)."""
    data = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            return data
        if not chunk:
            return data
        data += chunk


async def test_status_lines_are_read_as_they_come(pipe: Pipe) -> None:
    write_fd = pipe.write_fd
    status = pipe.status()
    os.write(write_fd, b"started 4242\nleftovers\n")
    os.write(write_fd, b"exi")  # a line split across writes
    os.write(write_fd, b"ted 3\n")

    await status.until_exit()

    assert status.pid == 4242
    assert status.leftovers is True
    assert status.exit_code == 3
    assert status.cannot_run is None
    status.close()


async def test_a_command_that_cannot_run_ends_the_wait_with_its_reason(
    pipe: Pipe,
) -> None:
    write_fd = pipe.write_fd
    status = pipe.status()
    os.write(write_fd, b"cannot-run no such file: ./deploy.sh\n")

    await status.until_exit()

    assert status.cannot_run == "no such file: ./deploy.sh"
    assert status.exit_code is None
    assert status.pid is None
    status.close()


async def test_an_unknown_line_is_logged_and_skipped(
    pipe: Pipe, caplog: pytest.LogCaptureFixture
) -> None:
    write_fd = pipe.write_fd
    status = pipe.status()
    with caplog.at_level(logging.WARNING, logger="bot.shell.process.supervisor_link"):
        os.write(write_fd, b"rebooting now\nexited -9\n")
        await status.until_exit()

    assert status.exit_code == -9
    assert any("unknown supervisor status line" in r.getMessage() for r in caplog.records)
    status.close()


async def test_the_supervisor_gone_ends_every_wait(pipe: Pipe) -> None:
    write_fd = pipe.write_fd
    status = pipe.status()
    os.write(write_fd, b"started 7\n")
    pipe.close(write_fd)  # the supervisor died without an exit line

    await status.until_exit()
    await status.until_closed()

    assert status.pid == 7
    assert status.exit_code is None
    status.close()  # twice is harmless


@dataclass
class Switch:
    on: bool = True

    def fresh(self) -> bool:
        return self.on


async def test_beats_go_out_only_while_the_worker_may_run(pipe: Pipe) -> None:
    read_fd, write_fd = pipe.read_fd, pipe.write_fd
    os.set_blocking(read_fd, False)
    keepalive = Switch(on=True)
    beating = asyncio.create_task(beat(write_fd, keepalive, every_s=0.01))
    await asyncio.sleep(0.1)
    beats = drain(read_fd)
    assert beats
    assert set(beats) == {ord(".")}  # only beats
    keepalive.on = False
    await asyncio.sleep(0.05)  # a beat already past its check may still land
    drain(read_fd)
    await asyncio.sleep(0.1)
    assert drain(read_fd) == b""  # nothing since
    beating.cancel()
    with pytest.raises(asyncio.CancelledError):
        await beating


async def test_a_beat_to_a_supervisor_that_is_gone_is_no_error(pipe: Pipe) -> None:
    write_fd = pipe.write_fd
    pipe.close(pipe.read_fd)  # writes now fail with EPIPE
    beating = asyncio.create_task(beat(write_fd, Switch(on=True), every_s=0.01))
    await asyncio.sleep(0.05)
    assert not beating.done()  # still beating, nothing raised
    beating.cancel()
    with pytest.raises(asyncio.CancelledError):
        await beating


async def test_exited_returns_with_the_processs_exit_code() -> None:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "raise SystemExit(5)")
    await exited(proc)
    assert proc.returncode == 5


async def test_a_signal_to_a_process_that_is_gone_is_no_error() -> None:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await proc.wait()
    send_signal(proc.pid, signal.SIGTERM, group=False)
    send_signal(proc.pid, signal.SIGKILL, group=True)
    assert proc.returncode == 0


async def test_a_signal_reaches_a_running_process() -> None:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "import time; time.sleep(60)")
    send_signal(proc.pid, signal.SIGTERM, group=False)
    await exited(proc)
    assert proc.returncode == -signal.SIGTERM
