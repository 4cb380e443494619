"""SIGSTOP of a worker mid-deploy past its thread lease and its lock lease, then SIGCONT
(fault suite, case 2). Pass: no overlap in the deploy script's ledger; the stale worker's
writes are refused (thread compare-and-set, lock fencing token)."""

import asyncio
import os
import signal
import time
from collections.abc import Callable

import pytest

from tests.faults.conftest import FaultRig, event_types, ledger, messages, overlaps
from tests.harness import read_thread, until_status

pytestmark = pytest.mark.faults


async def test_sigstop_past_both_leases_then_sigcont(rig_factory: Callable[..., FaultRig]) -> None:
    """Takes ~12 s: the stop must outlast the lock lease (3 s here) with margin, and the
    second worker needs a lease to take the thread over."""
    rig = rig_factory(settings={"DEPLOYBOT_LOCK_TTL_MS": "3000"})
    rig.hold_deploys()
    rig.bot.start_web()
    first = rig.bot.start_worker()
    async with rig.bot.client() as client:
        a = await rig.launch(client, "deploy backend v1.4.2 to staging")
        await rig.started(1)
        os.kill(first.pid, signal.SIGSTOP)
        stopped = time.monotonic()
        rig.bot.start_worker()
        b = await rig.launch(client, "deploy backend v1.4.1 to staging", user="alice")
        # The second worker takes thread a over (its lease lapsed) and finds it started with
        # no result; b is judged against what runs ahead of it.
        seen = await until_status(client, a, "awaiting_human", "done", "failed")
        taken_over_s = time.monotonic() - stopped
        await asyncio.sleep(max(0.0, 4.5 - (time.monotonic() - stopped)))  # past the lock lease too
        os.kill(first.pid, signal.SIGCONT)
        rig.release_deploys()
        await asyncio.sleep(3)
        final_a = await read_thread(client, a)
        # Two orders are possible, both by design. b was planned after a's takeover was
        # recorded: it is refused at once as going back from v1.4.2. Or before: it waits in
        # line behind the interrupted deploy, whose pair stays held for a person (invariant
        # 4) whatever a's late result says, until someone who may says "unlock staging".
        queued = (await read_thread(client, b))["status"] == "queued"
        if queued:
            unlock = await rig.launch(client, "unlock staging", user="alice")
            await until_status(client, unlock, "done", "awaiting_human", "failed")
        final_b = await until_status(client, b, "awaiting_human", "done", "failed")
    calls = ledger(rig.base)
    log = rig.bot.logs()
    print(
        f"SIGSTOP: b queued behind the hold: {queued}; "
        f"a={seen['status']} after {taken_over_s:.1f} s then {final_a['status']}; "
        f"b={final_b['status']}; ledger={[(c.key[-6:], c.token, c.how) for c in calls]}; "
        f"a events={event_types(final_a)}; b says={messages(final_b)[-1:]}; "
        f"conflicts={log.count('changed under us')}"
    )
    assert overlaps(calls) == 0
    # The stopped worker no longer told its supervisor it held the lock, so the command was
    # stopped (TERM) well inside the lock's lease: it cannot outlive the lock. The stale
    # worker's whole-thread save was refused (compare-and-set); its real result (stopped,
    # so failed) was put on top of the version the second worker wrote, not over it.
    kinds = event_types(final_a)
    assert kinds.count("deploy_started") == 1
    assert kinds.index("deploy_interrupted") < kinds.index("deploy_finished")
    assert final_a["status"] == "failed"
    assert [c.how for c in calls if c.key.startswith(a)] == ["term"]
    assert len([c for c in calls if c.key.startswith(a)]) == 1
    b_calls = [c for c in calls if c.key.startswith(b)]
    if queued:
        # Its turn came only once a person freed the pair, after a's command was stopped:
        # a's failed v1.4.2 is not live, so v1.4.1 is no step back; it ran once, after a.
        (a_call,) = [c for c in calls if c.key.startswith(a)]
        assert len(b_calls) <= 1
        assert a_call.end_s is not None
        assert all(c.start_s > a_call.end_s for c in b_calls)
    else:
        # b is judged against the deploy running ahead of it (issue 19.3): v1.4.1 after
        # v1.4.2 would go backwards, so it is refused as such, and never runs.
        assert any("back from v1.4.2 to v1.4.1" in text for text in messages(final_b))
        assert b_calls == []
    tokens = [c.token for c in calls]
    assert tokens == sorted(set(tokens)), "fencing tokens must grow"
