"""A verification belongs to the deploy it judges (issue 16.1), through a running worker on
real Redis, real deploy scripts and a real health endpoint that can hold a probe mid-round.

The bug: carol's v1.4.1 was being verified when alice's v1.4.2 deployed; v1.4.1's checks then
failed and the automatic rollback ran over alice's deploy, quarantining what alice shipped.
Now a newer deploy of the pair supersedes the verification (it decides nothing), and a
rollback runs only while the version that failed is still live.
"""

import asyncio
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from redis.asyncio import Redis

from bot.app.bootstrap import App
from bot.app.config_file import load_config
from bot.core.config.service import Check, HttpCheck
from bot.core.policy.supersession import Superseded
from bot.core.policy.verification import ProbeResult, Verified, VerifyFailed
from bot.core.thread.events import PlanProposed, VerificationFinished, VersionQuarantined
from bot.core.thread.plan import DeployRecord, Plan
from bot.core.thread.thread import Thread
from bot.shell.lock.holder import LockHolder
from bot.shell.verify.checks import Verifier
from bot.shell.verify.timings import Stopwatch, VerifyTimings
from bot.shell.world.quarantine import QuarantineList
from tests.support import calls, free_port, make_app, say, texts, thread_of, write_setup


class GatedHealth:
    """A health endpoint answering the status it had when each request arrived, once the
    gate is open (a closed gate holds every probe mid-round)."""

    def __init__(self) -> None:
        self.status = 200
        self.gate = asyncio.Event()
        self.gate.set()
        self.arrived = 0
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/healthz"
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def healthz(_request: web.Request) -> web.Response:
            status = self.status
            self.arrived += 1
            await self.gate.wait()
            return web.Response(status=status, text="ok" if status == 200 else "down")

        app = web.Application()
        app.router.add_get("/healthz", healthz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        self.gate.set()
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def health() -> AsyncIterator[GatedHealth]:
    server = GatedHealth()
    await server.start()
    yield server
    await server.stop()


def setup(tmp_path: Path, health: GatedHealth, *, env: str, extra: str = "") -> Path:
    config = write_setup(tmp_path)
    checks = f'verify_s = 1.5\nchecks = [{{ http = "{health.url}", timeout_s = 20 }}]\n{extra}'
    text = config.read_text()
    if env == "staging":
        text = text.replace("[environments.staging]\napproval = false\n",
                            f"[environments.staging]\napproval = false\n{checks}")  # fmt: skip
    else:
        text = text.replace("approval_timeout_s = 3600\n", f"approval_timeout_s = 3600\n{checks}")
    config.write_text(text)
    return config


def kinds(tmp_path: Path) -> list[list[str]]:
    return [c.split()[:3:2] for c in calls(tmp_path)]


async def until(what: Callable[[], Awaitable[bool]], *, timeout_s: float = 20) -> None:
    for _ in range(int(timeout_s / 0.05)):
        if await what():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out waiting")


async def status_is(app: App, thread_id: str, *wanted: str) -> bool:
    thread = await app.context.store.load(thread_id)
    return thread is not None and thread.status in wanted


async def quarantined(app: App, environment: str) -> list[str]:
    entries = await QuarantineList(redis=app.redis, keys=app.context.keys).of(
        service="backend", environment=environment
    )
    return sorted(e.version for e in entries.values())


async def judged(app: App, thread_id: str) -> bool:
    """Its verification ended, and what followed it too (nothing running)."""
    thread = await app.context.store.load(thread_id)
    return thread is not None and bool(verdicts(thread)) and thread.status != "running"


def verdicts(thread: Thread) -> list[str]:
    return [e.result for e in thread.events if isinstance(e, VerificationFinished)]


@pytest.fixture
async def running(
    redis: Redis, key_prefix: str, tmp_path: Path
) -> AsyncIterator[Callable[[Path], App]]:
    apps: list[tuple[App, asyncio.Event, asyncio.Task[None]]] = []

    def start(config: Path) -> App:
        app = make_app(redis, prefix=key_prefix, config_file=config, verify_interval_s=0.1)
        stop = asyncio.Event()
        apps.append((app, stop, asyncio.create_task(app.worker.run(stop=stop))))
        return app

    yield start
    for _, stop, task in apps:
        stop.set()
        await task


async def test_a_deploy_during_a_round_supersedes_the_verification_and_both_race_cleanly(
    tmp_path: Path, health: GatedHealth, running: Callable[[Path], App]
) -> None:
    """carol's v1.4.1 is mid-round (its probe saw the service down) when alice's v1.4.2
    starts; alice's verification races it. carol's decides nothing: no quarantine, no
    rollback over alice's deploy; alice's is judged on what it saw."""
    app = running(setup(tmp_path, health, env="staging", extra='on_verify_failure = "rollback"'))
    await say(app, "base", "slack:U0CAROL", "deploy backend v1.4.0 to staging", new=True)
    await until(lambda: judged(app, "base"))
    assert verdicts(await thread_of(app, "base")) == ["verified"]

    health.status, health.gate = 503, asyncio.Event()  # v1.4.1 breaks it; probes wait
    seen = health.arrived
    await say(app, "carol", "slack:U0CAROL", "deploy backend v1.4.1 to staging", new=True)

    async def carol_probing() -> bool:
        return health.arrived > seen

    await until(carol_probing)  # carol's first round is in flight, having seen 503
    health.status = 200  # v1.4.2 fixes it
    await say(app, "alice", "slack:U0ALICE", "deploy backend v1.4.2 to staging", new=True)

    async def alice_deployed() -> bool:
        return ["deploy", "v1.4.2"] in kinds(tmp_path)

    await until(alice_deployed)
    await asyncio.sleep(0.3)  # alice's verification is probing too
    health.gate.set()
    await until(lambda: judged(app, "carol"))
    await until(lambda: judged(app, "alice"))

    carol, alice = await thread_of(app, "carol"), await thread_of(app, "alice")
    assert verdicts(carol) == ["superseded"]
    assert carol.status == "done"
    said = texts(carol)[-1]
    assert said.startswith("Verification of backend v1.4.1 in staging stopped: ")
    assert "deploy of v1.4.2 started there" in said
    assert "decides nothing" in said
    assert verdicts(alice) == ["verified"]
    assert texts(alice)[-1].startswith("Verified backend v1.4.2 in staging")
    assert not [e for t in (carol, alice) for e in t.events if isinstance(e, VersionQuarantined)]
    assert await quarantined(app, "staging") == []
    assert kinds(tmp_path) == [["deploy", "v1.4.0"], ["deploy", "v1.4.1"], ["deploy", "v1.4.2"]]


async def test_a_proposed_rollback_is_closed_when_the_failed_version_is_replaced(
    tmp_path: Path, health: GatedHealth, running: Callable[[Path], App]
) -> None:
    """After carol's v1.4.1 failed its verification, its rollback waits for approval; alice's
    v1.4.2 ships meanwhile. The proposal is closed as superseded when alice's deploy starts,
    and approving it afterwards rolls nothing back over alice's deploy."""
    app = running(setup(tmp_path, health, env="production"))

    async def asking(thread_id: str, kind: str) -> bool:
        thread = await app.context.store.load(thread_id)
        request = None if thread is None else thread.open_approval()
        return request is not None and request.plan.kind == kind

    async def approve(thread_id: str, actor: str) -> None:
        await until(lambda: asking(thread_id, "deploy"))
        plan = (await thread_of(app, thread_id)).open_approval()
        assert plan is not None
        await say(app, thread_id, actor, f"approve {plan.plan.short_id}")

    await say(app, "base", "slack:U0CAROL", "deploy backend v1.4.0 to production", new=True)
    await approve("base", "slack:U0ALICE")
    await until(lambda: judged(app, "base"))

    health.status = 503
    await say(app, "carol", "slack:U0CAROL", "deploy backend v1.4.1 to production", new=True)
    await approve("carol", "slack:U0ALICE")
    await until(lambda: asking("carol", "rollback"))  # the rollback, proposed
    proposal = (await thread_of(app, "carol")).open_approval()
    assert proposal is not None
    assert (proposal.plan.kind, proposal.plan.version) == ("rollback", "v1.4.0")

    health.status = 200
    await say(app, "alice", "slack:U0BOB", "deploy backend v1.4.2 to production", new=True)
    await approve("alice", "slack:U0ALICE")
    await until(lambda: judged(app, "alice"))
    await say(app, "carol", "slack:U0BOB", f"approve {proposal.plan.short_id}")

    async def answered() -> bool:
        return "was superseded" in texts(await thread_of(app, "carol"))[-1]

    await until(answered)
    carol = await thread_of(app, "carol")
    assert carol.open_approval() is None
    assert kinds(tmp_path) == [["deploy", "v1.4.0"], ["deploy", "v1.4.1"], ["deploy", "v1.4.2"]]
    assert await quarantined(app, "production") == ["v1.4.1"]  # what failed, and only that
    assert verdicts(await thread_of(app, "alice")) == ["verified"]


async def test_an_automatic_rollback_waiting_for_the_lock_does_not_run_over_a_newer_deploy(
    tmp_path: Path, health: GatedHealth, running: Callable[[Path], App]
) -> None:
    """The last window: carol's verdict is in, and her automatic rollback is being planned or
    waits for the pair's lock while another deploy holds it and ships v1.4.2 (played here by
    its marks in Redis: the lock, the history line, the newest started deploy). Under the
    lock the rollback finds v1.4.1 is no longer live (or, planned after, that it would undo
    v1.4.2 instead): it does not run and is not made again."""
    app = running(setup(tmp_path, health, env="staging", extra='on_verify_failure = "rollback"'))
    await say(app, "base", "slack:U0CAROL", "deploy backend v1.4.0 to staging", new=True)
    await until(lambda: judged(app, "base"))

    health.status, health.gate = 503, asyncio.Event()
    seen = health.arrived
    await say(app, "carol", "slack:U0CAROL", "deploy backend v1.4.1 to staging", new=True)

    async def probing() -> bool:
        return health.arrived > seen

    await until(probing)  # carol's deploy is over (its lock released); verification runs
    holder = LockHolder(thread_id="alice", who="alice", why="deploy backend v1.4.2", since=now())
    taken, held = await app.context.env_lock.acquire(
        service="backend", environment="staging", holder=holder, ttl_ms=30_000
    )
    assert taken
    health.gate.set()  # carol's checks fail; her rollback now waits for alice's lock

    async def failed_and_quarantined() -> bool:  # the rollback is planned or waiting now
        return await quarantined(app, "staging") == ["v1.4.1"]

    await until(failed_and_quarantined)
    alice = Plan(
        kind="deploy",
        service="backend",
        environment="staging",
        version="v1.4.2",
        sha=tag_sha(tmp_path, "v1.4.2"),
        requester="alice",
    )
    await app.context.history.started(alice, idempotency_key="alice:x", at=now())
    await app.context.history.record(
        service="backend",
        environment="staging",
        record=DeployRecord(
            thread_id="alice",
            kind="deploy",
            version="v1.4.2",
            sha=alice.sha,
            requester="alice",
            result="succeeded",
            at=now().isoformat(),
        ),
    )
    await app.context.env_lock.release(
        service="backend", environment="staging", token=held.fencing_token
    )
    await until(lambda: status_is(app, "carol", "failed"))

    carol = await thread_of(app, "carol")
    said = texts(carol)[-1]
    assert said.startswith("The rollback of backend in staging cannot run: staging is now v1.4.2")
    assert "nothing is rolled back" in said
    rollbacks = [
        e for e in carol.events if isinstance(e, PlanProposed) and e.plan.kind == "rollback"
    ]
    assert len(rollbacks) == 1  # not made again against v1.4.2
    assert kinds(tmp_path) == [["deploy", "v1.4.0"], ["deploy", "v1.4.1"]]  # no rollback ran
    assert await quarantined(app, "staging") == ["v1.4.1"]


def now() -> datetime:
    return datetime.now(UTC)


def tag_sha(base: Path, tag: str) -> str:
    done = subprocess.run(
        ["git", "rev-parse", f"{tag}^{{commit}}"],
        cwd=base / "repos" / "backend",
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


# -- the verifier itself: when it asks, and what it does not count ------------------------


PLAN = Plan(
    kind="deploy",
    service="backend",
    environment="staging",
    version="v1.4.1",
    sha="a" * 40,
    requester="carol",
)
CHECKS: list[Check] = [HttpCheck(http="http://127.0.0.1:9/healthz")]
GONE = Superseded(text="superseded: a newer deploy started")


def verifier_with(tmp_path: Path, answers: list[bool]) -> tuple[Verifier, list[int]]:
    probes: list[int] = []

    async def probe(_check: Check, _plan: Plan, _key: str) -> ProbeResult:
        probes.append(1)
        healthy = answers.pop(0) if answers else True
        return ProbeResult(healthy=healthy, reason="" if healthy else "503")

    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    config = load_config(write_setup(tmp_path))
    verifier = Verifier(
        config=config,
        secrets=[],
        timings=VerifyTimings(interval_s=1),
        stopwatch=Stopwatch(now_s=lambda: now[0], sleep=sleep),
        probe=probe,
    )
    return verifier, probes


@pytest.mark.parametrize(
    ("asked_until_gone", "answers", "probes_run"),
    [
        (0, [False, False, False], 0),  # a deploy started before the first round: no probe
        (1, [False, False, False], 1),  # during round 1: its failing result is not counted
        (3, [False, False, False], 2),  # round 2 would fail it: gone before that verdict
        (4, [True, True, False, False], 2),  # green so far, then a newer deploy: no verdict
    ],
)
async def test_the_verifier_asks_before_each_round_and_before_the_verdict(
    tmp_path: Path, asked_until_gone: int, answers: list[bool], probes_run: int
) -> None:
    verifier, probes = verifier_with(tmp_path, list(answers))
    asked = [0]

    async def still_current() -> Superseded | None:
        asked[0] += 1
        return GONE if asked[0] > asked_until_gone else None

    outcome = await verifier.verify(
        PLAN, checks=CHECKS, verify_s=10, idempotency_key="k", still_current=still_current
    )

    assert outcome == GONE
    assert len(probes) == probes_run


async def test_without_a_newer_deploy_the_verdict_stands(tmp_path: Path) -> None:
    verifier, _ = verifier_with(tmp_path, [False, False])

    async def still_current() -> Superseded | None:
        return None

    outcome = await verifier.verify(
        PLAN, checks=CHECKS, verify_s=10, idempotency_key="k", still_current=still_current
    )

    assert isinstance(outcome, VerifyFailed)
    assert not isinstance(outcome, Verified)
