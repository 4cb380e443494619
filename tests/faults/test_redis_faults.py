"""Redis dies, stays away, or fails over under a running bot (fault suite, cases 3-5).

The test's own redis-server, killed with SIGKILL and started again on the same port and
folder. Pass: nothing acknowledged is lost with ``appendfsync always``; without persistence
the bot recovers; never a double deploy and never an overlap in the script's ledger.
"""

import asyncio
import os
import signal
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.faults.conftest import FaultRig, event_types, ledger, messages, overlaps
from tests.harness import RedisServer, approve, until, until_status

pytestmark = pytest.mark.faults

PROD = "deploy backend v1.4.2 to production"


@pytest.mark.parametrize("fsync", ["always", "everysec"])
async def test_redis_kill9_with_aof_while_waiting_and_while_deploying(
    rig_factory: Callable[..., FaultRig], fsync: str
) -> None:
    """kill -9 of Redis twice: while a request waits for approval, and while its deploy runs
    (restarted 1 s later, well inside half the 6 s lock lease). The request survives, the
    approval works, the deploy runs once and its result is saved."""
    rig = rig_factory(persistence=fsync)
    rig.bot.start_web()
    rig.bot.start_worker()
    async with rig.bot.client() as client:
        tid = await rig.launch(client, PROD)
        await until_status(client, tid, "awaiting_approval")
        await asyncio.sleep(1.1)  # everysec: what was acknowledged a second ago is on disk
        rig.redis.kill9()
        rig.redis.start()
        began = time.monotonic()
        await until_status(client, tid, "awaiting_approval")  # the thread survived
        first_back_s = time.monotonic() - began

        rig.hold_deploys()
        await approve(client, tid)
        await rig.started(1)
        await asyncio.sleep(1.1)
        rig.redis.kill9()
        await asyncio.sleep(1)
        rig.redis.start()
        began = time.monotonic()
        rig.release_deploys()
        done = await until_status(client, tid, "done", "failed", "awaiting_human")
        second_back_s = time.monotonic() - began
    calls = ledger(rig.base)
    print(
        f"redis kill -9, aof {fsync}: {len(calls)} deploy(s), {done['status']}; thread back "
        f"{first_back_s:.1f} s after restart; result saved {second_back_s:.1f} s after restart"
    )
    assert len(calls) == 1
    assert calls[0].how == "ok"
    assert done["status"] == "done"
    assert event_types(done).count("deploy_finished") == 1


async def test_redis_kill9_without_persistence_loses_everything_and_recovers(
    rig_factory: Callable[..., FaultRig],
) -> None:
    """Without persistence a restarted Redis is empty: the waiting request is gone (404 for
    it), and the bot must take new requests again without a restart of its own processes."""
    rig = rig_factory(persistence="none")
    rig.bot.start_web()
    rig.bot.start_worker()
    async with rig.bot.client() as client:
        tid = await rig.launch(client, PROD)
        await until_status(client, tid, "awaiting_approval")
        rig.redis.kill9()
        rig.redis.start()
        began = time.monotonic()
        lost = await client.get(f"/v1/threads/{tid}")
        while lost.status_code == 503:  # web's connections to the old Redis are re-made
            await asyncio.sleep(0.05)
            lost = await client.get(f"/v1/threads/{tid}")
        assert lost.status_code == 404
        again = await rig.launch(client, "deploy backend v1.4.2 to staging")
        done = await until_status(client, again, "done", timeout_s=30)
        recovered_s = time.monotonic() - began
    print(f"no persistence: the waiting request lost; a new one done {recovered_s:.1f} s after")
    assert len(ledger(rig.base)) == 1
    assert done["status"] == "done"


@pytest.mark.parametrize(
    ("fault", "outage_s"),
    [("kill9", 2.0), ("kill9", 8.0), ("sigstop", 7.0)],
    ids=["2s", "8s", "stalled-7s"],
)
async def test_redis_outage_during_a_deploy_with_a_second_request_queued(
    rig_factory: Callable[..., FaultRig], fault: str, outage_s: float
) -> None:
    """Redis (AOF always) is down for 2 s, or for 8 s: longer than the 6 s lock lease
    (DEPLOYBOT_LOCK_TTL_MS=6000 instead of the default 30 s, to stay fast), while deploy a
    runs and deploy b of the same service and environment waits for the lock. The 8 s case
    takes ~20 s: the outage itself and the worker's reconnect. Or Redis stops answering
    (SIGSTOP, then SIGCONT) for 7 s, past the clients' 5 s socket timeout: writes go into the
    kernel's buffers and the replies never come, through the web's and worker's own
    connections (QuickPool, QuickSend); the lock's lease cannot be renewed meanwhile, so a's
    command is stopped, as a command must not outlive its lock."""
    rig = rig_factory(persistence="always", settings={"DEPLOYBOT_LOCK_TTL_MS": "6000"})
    rig.hold_deploys()
    rig.bot.start_web()
    rig.bot.start_worker()
    async with rig.bot.client() as client:
        a = await rig.launch(client, "deploy backend v1.4.2 to staging")
        await rig.started(1)
        b = await rig.launch(client, "deploy backend v1.4.1 to staging", user="alice")
        await asyncio.sleep(0.5)  # b is read and waits for the lock
        assert rig.redis.proc is not None
        if fault == "kill9":
            rig.redis.kill9()
        else:
            os.kill(rig.redis.proc.pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(outage_s)
        finally:
            if fault == "kill9":
                rig.redis.start()
            else:
                os.kill(rig.redis.proc.pid, signal.SIGCONT)
        began = time.monotonic()
        rig.release_deploys()
        final_a = await until_status(client, a, "done", "failed", "awaiting_human", timeout_s=30)
        final_b = await until_status(client, b, "done", "failed", "awaiting_human", timeout_s=30)
        settled_s = time.monotonic() - began
    calls = ledger(rig.base)
    print(
        f"{fault} {outage_s:.0f} s: a={final_a['status']} b={final_b['status']}; ledger="
        f"{[(c.key[-6:], c.token, c.how) for c in calls]}; overlaps={overlaps(calls)}; "
        f"settled {settled_s:.1f} s after Redis came back; a says {messages(final_a)[-1:]}"
    )
    assert overlaps(calls) == 0
    assert len([c for c in calls if c.key.startswith(a)]) == 1
    assert len([c for c in calls if c.key.startswith(b)]) <= 1
    if outage_s > 3.0:  # past half the lease: a's command was stopped, and a says why
        assert final_a["status"] == "failed"
        (finished,) = [e for e in final_a["events"] if e["type"] == "deploy_finished"]
        assert "Redis was unreachable" in finished["output_tail"]  # what its result shows


async def test_failover_to_a_replica_while_a_deploy_is_in_flight(
    rig_factory: Callable[..., FaultRig],
) -> None:
    """The primary dies during a deploy; its replica is promoted (REPLICAOF NO ONE) and the
    bot restarted on it. The replica had the deploy_started claim (replication caught up):
    the new worker reports the deploy interrupted and nothing runs twice."""
    rig = rig_factory(persistence="none")
    replica = RedisServer(rig.base / "replica", persistence="none", replica_of=rig.redis.port)
    try:
        replica.start()
        replica.wait_synced()
        rig.hold_deploys()
        rig.bot.start_web()
        rig.bot.start_worker()
        async with rig.bot.client() as client:
            tid = await rig.launch(client, PROD)
            await approve(client, tid)
            await rig.started(1)
            primary = rig.redis.client()
            waited = primary.wait(1, 1000)
            assert waited == 1
            rig.redis.kill9()
            replica.client().replicaof("NO", "ONE")
            began = time.monotonic()
            rig.bot.restart_on(replica.url)
            final = await until_status(client, tid, "awaiting_human", "done", timeout_s=30)
            again = await client.post(
                f"/v1/threads/{tid}/events",
                json={"type": "approval", "decision": "approve", "user": "alice", "plan_hash": "x"},
            )
            recovered_s = time.monotonic() - began
            await asyncio.sleep(1)
        rig.release_deploys()
    finally:
        replica.stop()
    print(f"failover: {final['status']} {recovered_s:.1f} s after promotion; re-approve -> {again}")
    assert len(ledger(rig.base)) == 1
    assert "deploy_interrupted" in event_types(final)


class ReplicationLink:
    """A TCP relay between a replica and its primary that the test can cut: once cut, what
    the primary sends is dropped (a network partition), so the replica falls behind."""

    def __init__(self, primary_port: int) -> None:
        self.primary_port = primary_port
        self.cut = False
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = int(self.server.sockets[0].getsockname()[1])

    async def _relay(self, r_in: asyncio.StreamReader, r_out: asyncio.StreamWriter) -> None:
        p_in, p_out = await asyncio.open_connection("127.0.0.1", self.primary_port)

        async def pump(
            src: asyncio.StreamReader, dst: asyncio.StreamWriter, cuttable: bool
        ) -> None:
            while data := await src.read(65536):
                if not (cuttable and self.cut):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(
            pump(r_in, p_out, False), pump(p_in, r_out, True), return_exceptions=True
        )

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()


@pytest.mark.xfail(
    strict=True,
    reason="Without DEPLOYBOT_REDIS_REPLICAS (the default), the deploy_started save and its "
    "claim are acknowledged by the primary alone (asynchronous replication); a failover "
    "before they reach the replica loses them and the plan can run a second time. Set "
    "DEPLOYBOT_REDIS_REPLICAS (next test) or run one primary with AOF always.",
)
async def test_failover_before_the_claim_replicated_runs_the_deploy_twice(
    rig_factory: Callable[..., FaultRig],
) -> None:
    """The replication link is cut (a partition) so the approval, deploy_started and its
    claim reach the primary only; the primary dies, the replica is promoted with the thread
    still awaiting approval. An approver approves again, and the plan runs twice."""
    rig = rig_factory(persistence="none")
    link = ReplicationLink(rig.redis.port)
    await link.start()
    replica = RedisServer(rig.base / "replica", persistence="none", replica_of=link.port)
    try:
        replica.start()
        for _ in range(500):  # not wait_synced(): the relay runs on this event loop
            if replica.client().info("replication").get("master_link_status") == "up":
                break
            await asyncio.sleep(0.02)
        rig.hold_deploys()
        rig.bot.start_web()
        rig.bot.start_worker()
        async with rig.bot.client() as client:
            tid = await rig.launch(client, PROD)
            await until_status(client, tid, "awaiting_approval")

            async def replicated() -> bool:
                # In a thread: the relay that replicates runs on this event loop.
                acked = await asyncio.to_thread(rig.redis.client().wait, 1, 100)
                return int(acked) == 1

            await until(replicated, what="the replica caught up before the cut")
            link.cut = True
            await approve(client, tid)
            await rig.started(1)
            rig.redis.kill9()
            replica.client().replicaof("NO", "ONE")
            rig.bot.restart_on(replica.url)
            await approve(client, tid, user="alice")  # awaiting approval again
            await rig.started(2)
            rig.release_deploys()
            await until_status(client, tid, "done", "failed", "awaiting_human", timeout_s=30)
    finally:
        replica.stop()
        await link.stop()
    calls = ledger(rig.base)
    print(f"async replication: {len(calls)} runs of one plan, {overlaps(calls)} overlapping")
    assert len(calls) == 1


async def test_with_redis_replicas_set_a_failover_never_runs_a_plan_twice(
    rig_factory: Callable[..., FaultRig],
) -> None:
    """The same partition with DEPLOYBOT_REDIS_REPLICAS=1: a deploy runs only once its start
    and claim reached a replica (WAIT). Cut off, it does not run and says why; after the
    failover the promoted replica has no replica of its own, so the approval given again
    does not run it either. Never twice, and the thread says what to do."""
    rig = rig_factory(
        persistence="none",
        settings={"DEPLOYBOT_REDIS_REPLICAS": "1", "DEPLOYBOT_REDIS_WAIT_MS": "500"},
    )
    link = ReplicationLink(rig.redis.port)
    await link.start()
    replica = RedisServer(rig.base / "replica", persistence="none", replica_of=link.port)
    try:
        replica.start()
        for _ in range(500):  # not wait_synced(): the relay runs on this event loop
            if replica.client().info("replication").get("master_link_status") == "up":
                break
            await asyncio.sleep(0.02)
        rig.bot.start_web()
        rig.bot.start_worker()
        async with rig.bot.client() as client:
            tid = await rig.launch(client, PROD)
            await until_status(client, tid, "awaiting_approval")

            async def replicated() -> bool:
                # In a thread: the relay that replicates runs on this event loop.
                acked = await asyncio.to_thread(rig.redis.client().wait, 1, 100)
                return int(acked) == 1

            await until(replicated, what="the replica caught up before the cut")
            link.cut = True
            await approve(client, tid)
            before = await until_status(client, tid, "failed")
            said = " ".join(e.get("output_tail", "") for e in before["events"])
            assert "reached 0 of 1 Redis replicas" in said
            rig.redis.kill9()
            replica.client().replicaof("NO", "ONE")
            rig.bot.restart_on(replica.url)
            await approve(client, tid, user="alice")  # the approval was not replicated
            await until_status(client, tid, "failed", timeout_s=30)
    finally:
        replica.stop()
        await link.stop()
    assert ledger(rig.base) == []


def test_what_wait_costs_per_write(tmp_path: Path) -> None:
    """Measures what ``WAIT 1 <ms>`` after each claim-bearing save would add (a local
    replica: the floor; a replica across a network adds its round trip)."""
    base = tmp_path
    primary = RedisServer(base / "p", persistence="none")
    primary.start()
    replica = RedisServer(base / "r", persistence="none", replica_of=primary.port)
    replica.start()
    replica.wait_synced()
    try:
        client = primary.client()
        while client.wait(1, 100) != 1:
            time.sleep(0.05)
        plain, waited = [], []
        for i in range(300):
            t0 = time.perf_counter()
            client.set(f"k{i}", "v" * 2000)
            t1 = time.perf_counter()
            assert client.wait(1, 1000) == 1
            t2 = time.perf_counter()
            plain.append(t1 - t0)
            waited.append(t2 - t0)
    finally:
        replica.stop()
        primary.stop()
    p50 = statistics.median(plain) * 1000
    w50 = statistics.median(waited) * 1000
    w99 = sorted(waited)[int(len(waited) * 0.99)] * 1000
    print(f"WAIT 1: SET p50 {p50:.3f} ms; SET+WAIT p50 {w50:.3f} ms, p99 {w99:.3f} ms")
    assert w50 >= p50
