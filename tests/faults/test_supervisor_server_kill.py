"""kill -9 of a worker's supervisor server in the middle of a deploy (fault suite, issue 18).

Real ``deploybot web`` and ``deploybot worker`` processes; the ledger script counts deploys and
overlaps. The server only starts supervisors (each one is the worker's own child), so its death
must stop nothing: the running deploy ends with its real result, exactly once, and the next
deploy starts a new server and runs once too. The neighbouring case, the worker itself killed,
is tests/faults/test_worker_kill.py.
"""

import os
import signal
from collections.abc import Callable, Collection

import pytest

from tests.faults.conftest import FaultRig, event_types, ledger, overlaps, running
from tests.faults.test_worker_kill import assert_replies_once, awaiting
from tests.harness import approve, until, until_status

pytestmark = pytest.mark.faults


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as stat:
        return int(stat.read().rsplit(b")", 1)[1].split()[1])


def servers_of(worker_pid: int, *, besides: Collection[int] = ()) -> list[int]:
    """The worker's supervisor servers: its children whose command line names the server,
    ``besides`` the supervisors it cloned (they carry the same command line)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            ppid = parent_of(int(name))
            with open(f"/proc/{name}/cmdline", "rb") as cmdline:
                argv = cmdline.read()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == worker_pid and b"supervisor_server.py" in argv and int(name) not in besides:
            found.append(int(name))
    return found


async def test_the_supervisor_server_killed_mid_deploy_stops_nothing(
    rig_factory: Callable[..., FaultRig],
) -> None:
    rig = rig_factory()
    rig.hold_deploys()
    rig.bot.start_web()
    worker = rig.bot.start_worker()
    async with rig.bot.client() as client:
        tid = await awaiting(rig, client)
        await approve(client, tid)
        await rig.started(1)
        command = ledger(rig.base)[0].pid
        supervisor = parent_of(command)
        assert parent_of(supervisor) == worker.pid  # the tree: worker, supervisor, command
        [server] = servers_of(worker.pid, besides={supervisor})
        os.kill(server, signal.SIGKILL)

        async def server_gone() -> bool:
            return not running(server)

        await until(server_gone, what="the supervisor server dies")
        assert running(command), "the deploy command died with the server"
        rig.release_deploys()
        done = await until_status(client, tid, "done", "failed", "awaiting_human")
        assert done["status"] == "done", event_types(done)

        # The next deploy starts a new server and runs once.
        second = await rig.launch(client, "deploy backend v1.4.2 to staging")
        again = await until_status(client, second, "done", "failed", "awaiting_human")
        assert again["status"] == "done", event_types(again)
        assert servers_of(worker.pid) not in ([], [server])
    calls = ledger(rig.base)
    assert [c.how for c in calls] == ["ok", "ok"]
    assert overlaps(calls) == 0
    await assert_replies_once(rig, done)
    await assert_replies_once(rig, again)
