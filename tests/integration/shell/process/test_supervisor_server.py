"""The supervisor server (issue 18.3) under attack, with real processes: a worker killed with
-9 or stopped past its silence takes its command and a ``setsid`` grandchild with it; the
server killed mid-command stops nothing (the deploy reports its real result) and the next
command starts a new server; a server that never starts a command is killed and the command
never runs; a supervisor is signalled only through a pidfd on this process's own child; 50
commands at once through one server each get their own output; ``run_as`` through the
server; the server's environment holds no secret of the bot's."""

import asyncio
import os
import pwd
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.shell.process.command_deployer import CommandDeployer
from bot.shell.process.forked import ForkedSupervisor
from bot.shell.process.forkserver import SupervisorServer
from bot.shell.process.supervisor_link import SupervisorStatus
from tests.integration.shell.process.test_deploy_processes import HOSTILE_SH, pids
from tests.integration.shell.process.test_deployer import (
    DEFAULT_ARGV,
    PLAN,
    alive,
    calls,
    config,
    script,
    wait_dead,
)

ROOT = Path(__file__).resolve().parents[4]

# A worker of its own: runs one deploy of the config in argv[1] through its own supervisor
# server, with a keep-alive that is always fresh when argv[2] (silence_s) is given.
WORKER = """
import asyncio, sys
from pathlib import Path
from bot.shell.process.command_deployer import CommandDeployer
from tests.integration.shell.process.test_deployer import DEFAULT_ARGV, PLAN, config

class Fresh:
    def fresh(self) -> bool:
        return True

async def main() -> None:
    silence = float(sys.argv[2]) if len(sys.argv) > 2 else None
    cfg = config(Path(sys.argv[1]), deploy=DEFAULT_ARGV, timeout_s=600)
    deployer = CommandDeployer(run_as_root=True, config=cfg, secrets=[], grace_s=0.3)
    result = await deployer.run(
        plan=PLAN, idempotency_key="k", fencing_token=1,
        keepalive=Fresh() if silence else None, silence_s=silence,
    )
    print("result", result.result, flush=True)

asyncio.run(main())
"""

# Waits while scripts/gate exists, then says so; records each call.
GATED_SH = """#!/bin/sh
here="$(dirname "$0")"
echo "$DEPLOYBOT_IDEMPOTENCY_KEY" >> "$here/calls.log"
echo $$ > "$here/cmd.pid"
while [ -e "$here/gate" ]; do sleep 0.02; done
echo "deployed $DEPLOYBOT_IDEMPOTENCY_KEY"
"""


def ppid_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def server_of(worker: int) -> int | None:
    """The supervisor server started by ``worker`` (a child running supervisor_server.py)."""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
            if ppid_of(int(name)) == worker and b"supervisor_server.py" in cmdline:
                return int(name)
        except (OSError, IndexError):
            continue
    return None


async def until(check: object, *, what: str, within_s: float = 10) -> None:
    assert callable(check)
    for _ in range(int(within_s / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"never happened: {what}")


@pytest.fixture
def worker_process(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.kill()
        proc.wait()


def start_worker(
    started: list[subprocess.Popen[bytes]], base: Path, *args: str
) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(base), *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
    )
    started.append(proc)
    return proc


@pytest.fixture
async def server() -> AsyncIterator[SupervisorServer]:
    own = SupervisorServer()
    yield own
    await own.close()


async def test_kill_9_of_the_worker_takes_the_command_and_its_setsid_grandchild(
    tmp_path: Path, worker_process: list[subprocess.Popen[bytes]]
) -> None:
    script(tmp_path, "deploy.sh", HOSTILE_SH.format(end="sleep 60"))
    worker = start_worker(worker_process, tmp_path)
    grandchild_file = tmp_path / "scripts" / "grandchild.pid"
    await until(lambda: grandchild_file.exists() and grandchild_file.read_text(), what="started")
    command, grandchild = pids(tmp_path)
    supervisor = ppid_of(command)
    server = server_of(worker.pid)
    assert ppid_of(supervisor) == worker.pid  # the tree: worker, supervisor, command
    assert server is not None
    assert server != supervisor

    worker.kill()
    worker.wait()

    for pid, name in ((command, "command"), (grandchild, "setsid grandchild"),
                      (supervisor, "supervisor"), (server, "server")):  # fmt: skip
        assert await wait_dead(pid, within_s=10), f"the {name} outlived the worker"


async def test_a_worker_stopped_past_its_silence_loses_its_command(
    tmp_path: Path, worker_process: list[subprocess.Popen[bytes]]
) -> None:
    script(tmp_path, "deploy.sh", HOSTILE_SH.format(end="sleep 60"))
    worker = start_worker(worker_process, tmp_path, "1.0")
    grandchild_file = tmp_path / "scripts" / "grandchild.pid"
    await until(lambda: grandchild_file.exists() and grandchild_file.read_text(), what="started")
    command, grandchild = pids(tmp_path)

    os.kill(worker.pid, signal.SIGSTOP)
    try:
        assert await wait_dead(command, within_s=10), "the command outlived the silence"
        assert await wait_dead(grandchild, within_s=10), "the grandchild outlived the silence"
    finally:
        os.kill(worker.pid, signal.SIGCONT)
    out, _ = worker.communicate(timeout=30)
    assert out.decode().split() == ["result", "failed"]  # stopped by its supervisor


async def test_the_server_killed_mid_command_stops_nothing_and_is_replaced(
    tmp_path: Path, server: SupervisorServer
) -> None:
    script(tmp_path, "deploy.sh", GATED_SH)
    (tmp_path / "scripts" / "gate").touch()
    deployer = CommandDeployer(
        run_as_root=True, config=config(tmp_path, deploy=DEFAULT_ARGV), secrets=[], server=server
    )
    running = asyncio.create_task(deployer.run(plan=PLAN, idempotency_key="k1", fencing_token=1))
    await until(lambda: (tmp_path / "scripts" / "cmd.pid").exists(), what="the command started")
    first = server.pid
    assert first is not None

    os.kill(first, signal.SIGKILL)
    assert await wait_dead(first)
    (tmp_path / "scripts" / "gate").unlink()
    result = await running
    again = await deployer.run(plan=PLAN, idempotency_key="k2", fencing_token=2)

    assert (result.result, result.output_tail) == ("succeeded", "deployed k1")
    assert (again.result, again.output_tail) == ("succeeded", "deployed k2")
    assert server.pid not in (None, first)
    assert calls(tmp_path) == ["k1", "k2"]


async def test_a_server_that_never_starts_the_command_is_killed_and_it_never_runs(
    tmp_path: Path, server: SupervisorServer
) -> None:
    script(tmp_path, "deploy.sh", GATED_SH)
    cfg = config(tmp_path, deploy=DEFAULT_ARGV, timeout_s=0.5)
    deployer = CommandDeployer(run_as_root=True, config=cfg, secrets=[], server=server)
    await deployer.run(plan=PLAN, idempotency_key="k0", fencing_token=1)  # the server is up
    stuck = server.pid
    assert stuck is not None
    os.kill(stuck, signal.SIGSTOP)

    result = await deployer.run(plan=PLAN, idempotency_key="k1", fencing_token=2)

    assert (result.result, result.exit_code) == ("timed_out", None)
    assert await wait_dead(stuck), "the stuck server was not killed"
    again = await deployer.run(plan=PLAN, idempotency_key="k2", fencing_token=3)
    assert again.result == "succeeded"
    assert calls(tmp_path) == ["k0", "k2"]  # k1 never ran, not even late


async def test_a_supervisor_is_signalled_only_as_this_process_s_own_child() -> None:
    """A ``supervisor PID`` line naming a process that is not our child (as a reused pid
    would be) is never signalled: signals go through a pidfd checked with waitid."""
    stranger = subprocess.run(
        ["sh", "-c", "sleep 60 > /dev/null 2>&1 & echo $!"], capture_output=True, check=True
    )
    pid = int(stranger.stdout)
    status_r, status_w = os.pipe()
    out_r, out_w = os.pipe()
    loop = asyncio.get_running_loop()
    output = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(output), os.fdopen(out_r, "rb", buffering=0)
    )
    killed: list[str] = []
    forged = ForkedSupervisor(
        status=SupervisorStatus(status_r),
        output=output,
        transport=transport,
        on_stuck=lambda: killed.append("server"),
        on_cpu=lambda _: None,
    )
    try:
        os.write(status_w, f"supervisor {pid}\n".encode())
        await forged.status.until_supervisor()
        await forged.signal(signal.SIGKILL)
        await forged.exited()  # not ours: nothing to wait for
        await asyncio.sleep(0.1)
        assert alive(pid), "a process that is not our child was signalled"
        assert killed == []
    finally:
        forged.status.close()
        forged.close()
        os.close(status_w)
        os.close(out_w)
        os.kill(pid, signal.SIGKILL)


LINES_SH = """#!/bin/sh
i=0
while [ $i -lt 300 ]; do echo "$DEPLOYBOT_IDEMPOTENCY_KEY line $i"; i=$((i+1)); done
"""


async def test_50_commands_at_once_through_one_server_keep_their_own_output(
    tmp_path: Path, server: SupervisorServer
) -> None:
    script(tmp_path, "deploy.sh", LINES_SH)
    deployer = CommandDeployer(
        run_as_root=True, config=config(tmp_path, deploy=DEFAULT_ARGV), secrets=[], server=server
    )
    seen: dict[str, list[str]] = {f"c{i}": [] for i in range(50)}

    async def one(key: str) -> tuple[str, str, str]:
        async def on_output(line: str) -> None:
            seen[key].append(line)

        result = await deployer.run(
            plan=PLAN, idempotency_key=key, fencing_token=1, on_output=on_output
        )
        return key, result.result, result.output_tail

    await deployer.run(plan=PLAN, idempotency_key="warm", fencing_token=1)
    first = server.pid
    results = await asyncio.gather(*(one(key) for key in seen))

    assert server.pid == first  # one server for all of them
    for key, outcome, tail in results:
        assert outcome == "succeeded"
        assert tail.splitlines()[-1] == f"{key} line 299"
        assert all(line.startswith(f"{key} line ") for line in tail.splitlines())
        assert seen[key]
        assert all(line.startswith(f"{key} line ") for line in seen[key])


WHO_SH = """#!/bin/sh
echo "uid=$(id -u) pwd=$(pwd) supervisor_parent=$(cut -d' ' -f4 /proc/$PPID/stat)" >> "{out}"
"""


@pytest.fixture
def shared_base() -> Iterator[Path]:
    """A folder nobody may enter and write one file in (pytest's own are private)."""
    base = Path(tempfile.mkdtemp(prefix="dbt-forkserver-"))
    base.chmod(0o755)
    out = base / "out.log"
    out.touch()
    out.chmod(0o666)
    script(base, "deploy.sh", WHO_SH.format(out=out)).parent.chmod(0o755)
    yield base
    subprocess.run(["rm", "-rf", str(base)], check=False)


def exists(path: str) -> bool:
    return Path(path).exists()


def read_bytes(path: str) -> bytes:
    return Path(path).read_bytes()


@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root (CI: root)")
async def test_run_as_through_the_server(shared_base: Path, server: SupervisorServer) -> None:
    deployer = CommandDeployer(  # a root bot: nobody by default
        config=config(shared_base, deploy=DEFAULT_ARGV), secrets=[], server=server
    )

    result = await deployer.run(plan=PLAN, idempotency_key="k", fencing_token=1)

    assert result.result == "succeeded", result.output_tail
    line = read_bytes(f"{shared_base}/out.log").decode()
    facts = dict(part.split("=", 1) for part in line.split())
    assert facts["uid"] == str(pwd.getpwnam("nobody").pw_uid)
    assert facts["pwd"].startswith(tempfile.gettempdir() + "/deploybot-run-")
    assert not exists(facts["pwd"])  # its private folder, removed
    assert facts["supervisor_parent"] == str(os.getpid())  # this process: the worker


async def test_the_server_holds_no_secret_of_the_bot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: SupervisorServer
) -> None:
    secrets = {
        "ANTHROPIC_API_KEY": "sk-ant-api03-server-test",
        "SLACK_BOT_TOKEN": "xoxb-server-test",
        "DEPLOYBOT_SECRET": "hmac-server-test",
        "REDIS_URL": "redis://:pw-server-test@127.0.0.1:6379/0",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    script(tmp_path, "deploy.sh", '#!/bin/sh\ncat /proc/$PPID/environ | tr "\\0" "\\n"\n')
    deployer = CommandDeployer(
        run_as_root=True, config=config(tmp_path, deploy=DEFAULT_ARGV), secrets=[], server=server
    )

    result = await deployer.run(plan=PLAN, idempotency_key="k", fencing_token=1)

    assert server.pid is not None
    environ = read_bytes(f"/proc/{server.pid}/environ").split(b"\0")
    assert [entry.split(b"=")[0] for entry in environ if entry] == [b"PATH"]
    assert result.result == "succeeded"
    supervisor_env = result.output_tail  # the supervisor's environment, as its command saw it
    assert supervisor_env.startswith("PATH=")
    for value in secrets.values():
        assert value not in supervisor_env
        assert value.encode() not in b"\0".join(environ)
