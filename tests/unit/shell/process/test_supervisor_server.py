"""The supervisor server's protocol on its own (bot/shell/process/supervisor_server.py), a
real server process driven through its socket: a request it cannot read is answered with
``cannot-run`` on the request's status pipe and the server goes on; a good request gets a
supervisor that is this process's child (``CLONE_PARENT``), says its pid first and its CPU
last; the end of the control socket ends the server; a server whose worker is already gone
ends at once. Also the status lines the worker reads for it, and ``descendants`` without a
/proc scan when there is no child."""

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.shell.process.supervisor_link import SupervisorStatus

SCRIPT = Path(__file__).resolve().parents[4] / "bot/shell/process/supervisor_server.py"


class Server:
    def __init__(self, *, parent_pid: int | None = None) -> None:
        self.ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", str(SCRIPT), "--parent-pid",
             str(parent_pid or os.getpid()), "--control-fd", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            env={"PATH": os.defpath},
        )  # fmt: skip
        theirs.close()

    def send(self, request: object, fds: list[int]) -> None:
        data = request if isinstance(request, bytes) else json.dumps(request).encode()
        socket.send_fds(self.ours, [data], fds)
        for fd in fds:
            os.close(fd)


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.ours.close()
    running.proc.wait(timeout=10)


def read_all(fd: int) -> list[str]:
    with os.fdopen(fd, "rb") as pipe:
        return pipe.read().decode().splitlines()


def request(argv: list[str]) -> dict[str, object]:
    return {"argv": argv, "env": {"PATH": os.defpath}, "cwd": "/", "grace_s": 0.2,
            "silence_s": None, "user": None}  # fmt: skip


@pytest.mark.parametrize(
    ("data", "fd_count"),
    [
        (b"{not json", 2),
        (json.dumps({"argv": ["/bin/true"]}).encode(), 2),  # fields missing
        (json.dumps(request([])).encode(), 2),  # no argv
        (json.dumps(request(["/bin/true"])).encode(), 1),  # no output pipe
    ],
)
def test_a_request_it_cannot_read_is_refused_and_the_server_goes_on(
    server: Server, data: bytes, fd_count: int
) -> None:
    status_r, status_w = os.pipe()
    out_r, out_w = os.pipe()
    server.send(data, [status_w, out_w][:fd_count])
    if fd_count < 2:
        os.close(out_w)
    lines = read_all(status_r)
    os.close(out_r)
    assert len(lines) == 1
    assert lines[0].startswith("cannot-run bad request to the supervisor server: ")

    status_r, status_w = os.pipe()  # the next request is served
    out_r, out_w = os.pipe()
    server.send(request(["/bin/echo", "hello"]), [status_w, out_w])
    lines = read_all(status_r)
    assert read_all(out_r) == ["hello"]
    word, pid = lines[0].split()
    assert word == "supervisor"
    os.waitpid(int(pid), 0)  # it is this process's child, not the server's


def test_a_supervisor_is_a_child_of_the_worker_and_says_its_cpu_last(server: Server) -> None:
    status_r, status_w = os.pipe()
    out_r, out_w = os.pipe()
    server.send(request(["/bin/sh", "-c", "exit 3"]), [status_w, out_w])
    lines = read_all(status_r)
    os.close(out_r)
    supervisor = int(lines[0].split()[1])
    _, status = os.waitpid(supervisor, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert [line.split()[0] for line in lines] == ["supervisor", "started", "exited", "cpu"]
    assert lines[2] == "exited 3"
    assert float(lines[3].split()[1]) > 0


def test_a_missing_working_folder_is_the_supervisor_s_cannot_run(server: Server) -> None:
    status_r, status_w = os.pipe()
    out_r, out_w = os.pipe()
    server.send({**request(["/bin/true"]), "cwd": "/no/such/folder"}, [status_w, out_w])
    lines = read_all(status_r)
    os.close(out_r)
    os.waitpid(int(lines[0].split()[1]), 0)
    assert lines[1] == "cannot-run cannot enter /no/such/folder: No such file or directory"


def test_the_end_of_the_control_socket_ends_the_server() -> None:
    running = Server()
    running.ours.close()
    assert running.proc.wait(timeout=10) == 0


def test_a_server_whose_worker_is_gone_ends_at_once() -> None:
    running = Server(parent_pid=1)  # not its parent: as if the worker had died already
    assert running.proc.wait(timeout=10) == 0
    running.ours.close()


async def test_the_status_lines_of_a_forked_supervisor() -> None:
    read_fd, write_fd = os.pipe()
    status = SupervisorStatus(read_fd)
    waiting = asyncio.create_task(status.until_supervisor())
    os.write(write_fd, b"supervisor 4321\nstarted 4322\nexited 0\ncpu 0.000812\n")
    await waiting
    os.close(write_fd)
    await status.until_closed()
    assert (status.supervisor_pid, status.pid, status.exit_code) == (4321, 4322, 0)
    assert status.cpu_s == pytest.approx(0.000812)


def test_no_child_means_no_descendant_without_a_scan() -> None:
    code = (
        "import os, subprocess\n"
        "from bot.shell.process import proctree\n"
        "print(proctree.has_children(), proctree.descendants(os.getpid()))\n"
        "p = subprocess.Popen(['sleep', '30'])\n"
        "print(proctree.has_children(), proctree.descendants(os.getpid()) == [p.pid])\n"
        "p.kill(); p.wait()\n"
        "print(proctree.has_children())\n"
    )
    root = Path(__file__).resolve().parents[4]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, check=True, text=True
    )
    assert done.stdout.splitlines() == ["False []", "True True", "False"]
