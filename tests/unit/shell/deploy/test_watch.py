"""``bot.shell.deploy.watch.DeployWatch`` when Redis stops answering (stopped, not refused)
during a deploy: the renewal's wait is bounded by what is left of the half lease, so the watch
stops the command itself and says why, before the supervisor's own switch (no keep-alive for a
quarter lease) kills it with nothing but an exit code to show. The deployer here plays that
supervisor: it ends the command with exit 143 once the keep-alive has been stale that long."""

import asyncio
import time
from datetime import UTC, datetime

from bot.core.thread.deploy_result import DeployResult, Keepalive, OutcomeUnknown
from bot.core.thread.events import MessageSent, UserMessage
from bot.core.thread.origin import ApiOrigin
from bot.core.thread.plan import Plan
from bot.core.thread.thread import Thread
from bot.shell.deploy.watch import DeployWatch
from bot.shell.world.context import Limits
from tests.fakes.shell import fake_context

AT = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
PLAN = Plan(
    kind="deploy",
    service="backend",
    environment="staging",
    version="v1.1.0",
    sha="c" * 40,
    requester="carol",
)


class SupervisedCommand:
    """A command that runs until stopped: by cancellation (the watch stopping it), or by the
    supervisor once ``keepalive`` has not been fresh for ``silence_s``."""

    def __init__(self) -> None:
        self.cancelled = False

    def runs_on_github(self, plan: Plan) -> bool:
        return False

    async def run(
        self, *, keepalive: Keepalive, silence_s: float, **_: object
    ) -> DeployResult | OutcomeUnknown:
        began = time.monotonic()
        stale_since: float | None = None
        try:
            while True:
                await asyncio.sleep(0.01)
                if keepalive.fresh():
                    stale_since = None
                    continue
                stale_since = stale_since or time.monotonic()
                if time.monotonic() - stale_since >= silence_s:
                    return DeployResult(
                        result="failed",
                        exit_code=143,
                        duration_s=time.monotonic() - began,
                        output_tail="Terminated",
                    )
        except asyncio.CancelledError:
            self.cancelled = True
            raise


async def test_a_silent_redis_stops_the_command_with_redis_named_as_the_reason() -> None:
    context, _ = fake_context(limits=Limits(lock_ttl_ms=600, lock_wait_s=0, progress_every_s=60))
    renewals: list[float] = []

    async def silent_renew(**_: object) -> bool:
        renewals.append(time.monotonic())
        await asyncio.Event().wait()  # the reply never comes
        return True

    context.env_lock.renew = silent_renew  # type: ignore[method-assign]
    command = SupervisedCommand()
    watch = DeployWatch(context=context, deployer=command)  # type: ignore[arg-type]
    thread = Thread(
        id="t1",
        origin=ApiOrigin(),
        created_at=AT,
        events=[UserMessage(id="m1", at=AT, actor="api:carol", text="deploy")],
    )
    start = MessageSent(id="s1", at=AT, text="Deploying backend v1.1.0 to staging ...")
    began = time.monotonic()
    result = await asyncio.wait_for(watch.run(thread, PLAN, "k1", 7, start=start), timeout=5)
    took_s = time.monotonic() - began

    assert isinstance(result, DeployResult)
    assert result.exit_code is None, result  # stopped by the watch, not by the supervisor
    assert "Redis was unreachable" in result.output_tail
    assert command.cancelled
    assert len(renewals) == 1  # one renewal a third into the lease, never answered
    assert took_s < 0.6 * 3 / 4  # before the supervisor's switch (half + quarter lease)
