"""A running deploy, watched: its lock kept alive, its progress shown, its command stopped
before the lock could be lost (invariant 4).

The lock's lease is renewed every third of it; renewal rides out Redis errors with retries.
If the lock is taken away (or lost with Redis's data), or Redis stays unreachable for half
the lease, the command (and all it started) is stopped, so nobody else can take the lock
while it may still run: the keep-alive beats to the supervisor stop at once (it kills the
command's tree a quarter lease later, whatever the command does with SIGTERM), and the
command gets SIGTERM meanwhile. See bot/shell/lock/lease.py for the bounds.

A GitHub workflow run goes on without this process, so its lock is renewed for
``GITHUB_LEASE_MS`` (a day) instead of the lease, from before the dispatch: a dead worker's run
stays fenced until the next worker has followed it to its end (bot/shell/deploy/recovery.py), and
Redis being away does not stop it. Only a lost lock does: the run is asked to cancel, and its
outcome is unknown (held for a person, bot/shell/deploy/interruption.py).
"""

import asyncio
import contextlib
import logging
import time

from redis.exceptions import RedisError

from bot.core.ports.outbound import OutboundMessage
from bot.core.reports.deploy_watch import (
    cancel_asked_reason,
    lock_lost_reason,
    not_dispatched_tail,
    redis_unreachable_reason,
    stopped_tail,
)
from bot.core.thread.deploy_result import DeployResult, OutcomeUnknown
from bot.core.thread.events import MessageSent
from bot.core.thread.plan import Plan
from bot.core.thread.thread import Thread
from bot.core.wording.messages import progress_text
from bot.shell.deploy.targets import Deployers
from bot.shell.world.context import Context

__all__ = ["GITHUB_LEASE_MS", "DeployWatch"]

GITHUB_LEASE_MS = 24 * 3600 * 1000  # a GitHub run's lock when no worker renews it any more

log = logging.getLogger("deploybot.deploywatch")


class DeployWatch:
    def __init__(self, *, context: Context, deployer: Deployers) -> None:
        self._env_lock = context.env_lock
        self._outbox = context.outbox
        self._new_id = context.clock.new_id
        self._lock_ttl_ms = context.limits.lock_ttl_ms
        self._progress_every_s = context.limits.progress_every_s
        self._deployer = deployer

    async def run(
        self, thread: Thread, plan: Plan, key: str, token: int, *, start: MessageSent
    ) -> DeployResult | OutcomeUnknown:
        """Run the deploy while keeping its lock (invariant 4). If the lock cannot be kept
        (Redis unreachable for half the lease, or the lock taken away), the command is
        stopped, with all it started, before the lease can run out and anyone else can take
        the lock; the result says why."""
        loop = asyncio.get_running_loop()
        began = loop.time()
        last_line: list[str] = []

        async def on_output(line: str) -> None:
            if line.strip():
                last_line[:] = [line.strip()[:200]]

        on_github = self._deployer.runs_on_github(plan)
        lease_ms = GITHUB_LEASE_MS if on_github else self._lock_ttl_ms
        if on_github and not await self._renew(plan, token, lease_ms):
            return DeployResult(
                result="failed",
                exit_code=None,
                duration_s=loop.time() - began,
                output_tail=not_dispatched_tail(plan),
            )
        done = asyncio.Event()  # a flag as well as cancel(): see bot/shell/loop/heartbeat.py
        held = _Held(ttl_s=self._lock_ttl_ms / 1000)
        deploy = asyncio.create_task(
            self._deployer.run(
                plan=plan,
                idempotency_key=key,
                fencing_token=token,
                on_output=on_output,
                # The supervisor's own dead-man's switch: if this process stops telling it
                # the lock is held (stopped, stuck, or the lock lost), it stops the command.
                keepalive=held,
                silence_s=self._lock_ttl_ms / 4000,
            )
        )
        keeper = asyncio.create_task(
            self._keep_lock(plan, token, done, held=held, lease_ms=lease_ms)
        )
        reporter = asyncio.create_task(
            self._report_progress(
                thread, plan, start=start, began=began, last_line=last_line, done=done
            )
        )
        try:
            await asyncio.wait({deploy, keeper}, return_when=asyncio.FIRST_COMPLETED)
            if deploy.done():
                return deploy.result()
            reason = keeper.result()
            held.lost()  # the supervisor stops hearing from us: it kills the tree in ttl/4
            log.error("stopping the deploy of plan %s: %s", plan.short_id, reason)
            deploy.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await deploy
            if (
                on_github
            ):  # asked to cancel (bot/shell/github/workflow_deployer.py), yet it may go on
                return OutcomeUnknown(
                    reason=cancel_asked_reason(reason),
                    duration_s=loop.time() - began,
                )
            return DeployResult(
                result="failed",
                exit_code=None,
                duration_s=loop.time() - began,
                output_tail=stopped_tail(plan, reason=reason),
            )
        finally:
            done.set()
            for task in (keeper, reporter):
                task.cancel()
            if not deploy.done():  # we are being cancelled: the deployer stops the command
                deploy.cancel()
                with contextlib.suppress(BaseException):
                    await asyncio.shield(deploy)
            await asyncio.wait({keeper, reporter}, timeout=self._lock_ttl_ms / 1000)

    async def _renew(self, plan: Plan, token: int, lease_ms: int) -> bool:
        try:
            return await self._env_lock.renew(
                service=plan.service, environment=plan.environment, token=token, ttl_ms=lease_ms
            )
        except (RedisError, OSError) as exc:
            log.warning("the lock of %s in %s: %s", plan.service, plan.environment, exc)
            return False

    async def _keep_lock(
        self, plan: Plan, token: int, done: asyncio.Event, *, held: "_Held", lease_ms: int
    ) -> str:
        """Renew the deploy's lock every third of its lease until ``done``; ride out Redis
        outages with retries (backoff up to 1 s). Returns why it cannot keep the lock: it was
        taken away, or Redis was unreachable (refused, or silent) for half the lease; the rest
        of the lease is the time the deployer needs to stop the command."""
        loop = asyncio.get_running_loop()
        ttl_s = self._lock_ttl_ms / 1000
        last_ok = loop.time()
        wait_s = ttl_s / 3
        while not done.is_set():
            await asyncio.sleep(wait_s)
            if done.is_set():
                break
            renewal = self._env_lock.renew(
                service=plan.service, environment=plan.environment, token=token, ttl_ms=lease_ms
            )
            try:
                if lease_ms == self._lock_ttl_ms:
                    # A Redis that stops answering (stopped, swapping) leaves the reply to the
                    # socket timeout, which may be longer than the half lease: bound the wait,
                    # so the reason is Redis and the command is stopped here, before the
                    # supervisor's own switch kills it with no reason given.
                    left_s = max(ttl_s / 2 - (loop.time() - last_ok), 0.05)
                    kept = await asyncio.wait_for(renewal, timeout=left_s)
                else:
                    kept = await renewal
            except (RedisError, OSError) as exc:  # TimeoutError is an OSError
                unreachable_s = loop.time() - last_ok
                log.warning(
                    "renewing the lock of %s in %s failed (%s); retrying",
                    plan.service,
                    plan.environment,
                    exc,
                )
                if unreachable_s >= ttl_s / 2 and lease_ms == self._lock_ttl_ms:
                    return redis_unreachable_reason(plan, unreachable_s=unreachable_s)
                # Retry soon, then back off: 0.1, 0.2, 0.4 ... 1 s.
                wait_s = 0.1 if wait_s >= ttl_s / 3 else min(wait_s * 2, 1.0)
                continue
            if not kept:
                return lock_lost_reason(plan)
            last_ok = loop.time()
            held.renewed()
            wait_s = ttl_s / 3
        return "the deploy finished"

    async def _report_progress(
        self,
        thread: Thread,
        plan: Plan,
        *,
        start: MessageSent,
        began: float,
        last_line: list[str],
        done: asyncio.Event,
    ) -> None:
        """Edit the "Deploying ..." message every few seconds; a failure is only logged."""
        loop = asyncio.get_running_loop()
        while not done.is_set():
            await asyncio.sleep(self._progress_every_s)
            if done.is_set():
                return
            text = progress_text(
                plan, elapsed_s=loop.time() - began, last_line=last_line[0] if last_line else None
            )
            try:
                await self._outbox.send_transient(
                    OutboundMessage(
                        thread_id=thread.id,
                        message_id=self._new_id(),
                        origin=thread.origin,
                        text=text,
                        purpose="progress",
                        replaces=start.id,
                    )
                )
            except (RedisError, OSError) as exc:
                log.warning("progress message for thread %s not sent: %s", thread.id, exc)


class _Held:
    """The deploy's lock, as last renewed: fresh while renewed within half its lease, and
    never again once lost. Read by the deployer's keep-alive to the supervisor
    (``bot.core.thread.deploy_result.Keepalive``)."""

    def __init__(self, *, ttl_s: float) -> None:
        self._ttl_s = ttl_s
        self._renewed_at = time.monotonic()
        self._lost = False

    def renewed(self) -> None:
        self._renewed_at = time.monotonic()

    def lost(self) -> None:
        self._lost = True

    def fresh(self) -> bool:
        return not self._lost and time.monotonic() - self._renewed_at < self._ttl_s / 2
