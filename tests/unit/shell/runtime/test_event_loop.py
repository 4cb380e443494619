"""The long-running commands' event loop (bot/shell/runtime/event_loop.py): uvloop, with
what a worker needs from it — the coroutine's value, a child process waited for without an
asyncio child watcher, a signal handler, and every leftover task cancelled at the end."""

import asyncio
import os
import signal
import sys

import pytest

from bot.app.services import watch_children_with_pidfd
from bot.shell.runtime import event_loop


def test_run_returns_the_value_on_uvloop_and_closes_the_loop() -> None:
    seen: list[asyncio.AbstractEventLoop] = []

    async def main() -> int:
        seen.append(asyncio.get_running_loop())
        return 41 + 1

    assert event_loop.run(main()) == 42
    assert event_loop.is_uvloop(seen[0])
    assert seen[0].is_closed()


def test_a_child_process_is_waited_for_under_uvloop() -> None:
    async def main() -> tuple[int, bytes]:
        watch_children_with_pidfd()  # as `deploybot worker` calls it: nothing to do here
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "print('child ran'); raise SystemExit(3)",
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await proc.communicate()
        return proc.returncode or 0, out

    code, out = event_loop.run(main())
    assert (code, out) == (3, b"child ran\n")


def test_a_signal_handler_runs_and_leftover_tasks_are_cancelled() -> None:
    cancelled: list[bool] = []

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def main() -> str:
        got = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, got.set)
        left = asyncio.create_task(forever())
        await asyncio.sleep(0)
        os.kill(os.getpid(), signal.SIGUSR1)
        await asyncio.wait_for(got.wait(), timeout=5)
        loop.remove_signal_handler(signal.SIGUSR1)
        assert not left.done()  # still running when main ends: run must cancel it
        return "signalled"

    assert event_loop.run(main()) == "signalled"
    assert cancelled == [True]


def test_the_asyncio_loop_is_not_taken_for_uvloop() -> None:
    loop = asyncio.new_event_loop()
    try:
        assert not event_loop.is_uvloop(loop)
    finally:
        loop.close()


@pytest.mark.parametrize("value", [None, "text", ("a", 1)])
def test_any_value_comes_back_unchanged(value: object) -> None:
    async def main() -> object:
        await asyncio.sleep(0)
        return value

    assert event_loop.run(main()) == value
