"""The deployer: runs a service's deploy (or rollback) command for an approved plan.

The command is the argv template from the config with placeholders filled in per argument;
it never passes through a shell, so a version like ``v1; rm -rf /`` stays one argument.
The child runs in its own process group, in the config file's folder, with the parent's
environment minus deploybot's own secrets plus ``DEPLOYBOT_*`` facts about the plan:

    DEPLOYBOT_IDEMPOTENCY_KEY  DEPLOYBOT_FENCING_TOKEN  DEPLOYBOT_KIND
    DEPLOYBOT_SERVICE  DEPLOYBOT_VERSION  DEPLOYBOT_ENVIRONMENT  DEPLOYBOT_SHA
    DEPLOYBOT_PREVIOUS_VERSION (empty on a first deploy)

Its stdout and stderr are merged and read line by line; every line is redacted before anyone
sees it. On timeout the whole group gets SIGTERM, then SIGKILL after ``grace_s``. Processes
the command leaves behind holding its output are stopped the same way once it exits (the
deploy is over when the command is; the environment lock is released after that).
"""

import asyncio
import contextlib
import logging
import os
import re
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.config import Config
from bot.plan import Plan
from bot.redact import SECRET_ENV_NAMES, compact_tail, redact, strip_ansi, without_secrets

__all__ = ["CommandDeployer", "DeployResult"]

log = logging.getLogger(__name__)

_PLACEHOLDER = re.compile(r"\{(service|version|environment|sha|previous_version)\}")
_CHUNK_BYTES = 64 * 1024
_MAX_LINE_BYTES = 64 * 1024
_TAIL_LINES = 50
_SETTLE_AFTER_KILL_S = 1.0
_POLL_S = 0.05
_LOST_EXIT_S = 2.0  # how long a vanished child may go unreported


class DeployResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    result: Literal["succeeded", "failed", "timed_out"]
    exit_code: int | None  # negative: killed by that signal; None: never started
    duration_s: float
    output_tail: str  # redacted, compacted


OnOutput = Callable[[str], Awaitable[None]]


class CommandDeployer:
    def __init__(self, *, config: Config, secrets: Sequence[str], grace_s: float = 5) -> None:
        if grace_s < 0:
            raise ValueError("grace_s must be >= 0")
        self._config = config
        # deploybot's own secrets from the environment are always redacted too.
        own = [os.environ[name] for name in SECRET_ENV_NAMES if os.environ.get(name)]
        self._secrets = tuple(dict.fromkeys([*secrets, *own]))
        self._grace_s = grace_s
        self._base_env: dict[str, str] | None = None

    # -- the pure parts ------------------------------------------------------------------

    def argv(self, *, plan: Plan) -> list[str]:
        """The exact argv for ``plan``: template chosen by kind, ``./`` paths resolved
        against the config's folder, placeholders filled in per argument."""
        template = [self._config.argv_path(arg) for arg in self._template(plan=plan)]
        return [self._fill(arg, plan=plan) for arg in template]

    def _template(self, *, plan: Plan) -> list[str]:
        service = self._config.services[plan.service]
        if plan.kind == "rollback" and service.rollback:
            return service.rollback
        return service.deploy  # a rollback without its own command deploys the older version

    @staticmethod
    def _fill(arg: str, *, plan: Plan) -> str:
        values = {
            "service": plan.service,
            "version": plan.version,
            "environment": plan.environment,
            "sha": plan.sha,
            "previous_version": plan.previous_version or "",
        }
        # One pass: a value that itself looks like "{sha}" is not expanded again.
        return _PLACEHOLDER.sub(lambda m: values[m[1]], arg)

    def env(self, *, plan: Plan, idempotency_key: str, fencing_token: int) -> dict[str, str]:
        if self._base_env is None:  # the process environment, filtered once
            self._base_env = without_secrets(os.environ, secrets=self._secrets)
        env = dict(self._base_env)
        env.update(
            DEPLOYBOT_IDEMPOTENCY_KEY=idempotency_key,
            DEPLOYBOT_FENCING_TOKEN=str(fencing_token),
            DEPLOYBOT_KIND=plan.kind,
            DEPLOYBOT_SERVICE=plan.service,
            DEPLOYBOT_VERSION=plan.version,
            DEPLOYBOT_ENVIRONMENT=plan.environment,
            DEPLOYBOT_SHA=plan.sha,
            DEPLOYBOT_PREVIOUS_VERSION=plan.previous_version or "",
        )
        return env

    # -- running -------------------------------------------------------------------------

    async def run(
        self,
        *,
        plan: Plan,
        idempotency_key: str,
        fencing_token: int,
        on_output: OnOutput | None = None,
    ) -> DeployResult:
        """Run the command for ``plan`` to the end; never raises for a failing command.

        ``on_output`` gets each redacted output line as it comes; keep it cheap (a slow
        callback slows the reading, and so the command). Its errors are logged, not raised.
        Cancelling ``run`` stops the command's process group (SIGTERM, then SIGKILL after the
        grace period) and waits for it before re-raising.
        """
        timeout_s = self._config.services[plan.service].timeout_s
        shown = self._template(plan=plan)[0]
        started = time.monotonic()
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.argv(plan=plan),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=self.env(
                    plan=plan, idempotency_key=idempotency_key, fencing_token=fencing_token
                ),
                cwd=self._config.base_dir,
                start_new_session=True,
            )
        except OSError as exc:
            return DeployResult(
                result="failed",
                exit_code=None,
                duration_s=time.monotonic() - started,
                output_tail=self._clean(f"cannot run {shown}: {exc.strerror or exc}"),
            )
        assert proc.stdout is not None
        tail: deque[str] = deque(maxlen=_TAIL_LINES)
        reader = asyncio.create_task(self._read(proc.stdout, tail=tail, on_output=on_output))
        timed_out = False
        try:
            try:
                async with asyncio.timeout(timeout_s):
                    await self._exited(proc)
            except TimeoutError:
                timed_out = True
                await self._stop(proc, reader)
                tail.append(f"deploybot: timed out after {timeout_s:g} s; stopped")
            else:
                if not await self._settled(proc, reader, self._grace_s):
                    await self._stop(proc, reader)
                    tail.append("deploybot: stopped processes left running by the command")
        except BaseException:
            # Cancelled (the worker is stopping): stop the command and reap it before going,
            # so no zombie or open pipe outlives the run. Shielded: a second cancel cannot
            # interrupt the clean-up half way.
            with contextlib.suppress(BaseException):
                await asyncio.shield(self._stop(proc, reader))
            raise
        if reader.done() and not reader.cancelled() and (error := reader.exception()):
            log.error("reading the deploy output failed", exc_info=error)
        code = proc.returncode
        if code is None and not timed_out:
            tail.append("deploybot: the command's exit status was lost; check the environment")
        result: Literal["succeeded", "failed", "timed_out"]
        result = "timed_out" if timed_out else ("succeeded" if code == 0 else "failed")
        return DeployResult(
            result=result,
            exit_code=code,
            duration_s=time.monotonic() - started,
            output_tail=self._clean("\n".join(tail)),
        )

    def _clean(self, text: str) -> str:
        return compact_tail(redact(text, secrets=self._secrets))

    async def _read(
        self, stream: asyncio.StreamReader, *, tail: deque[str], on_output: OnOutput | None
    ) -> None:
        """Split the output into lines (however long), redact each, keep and forward it."""
        pending = b""
        while True:
            chunk = await stream.read(_CHUNK_BYTES)
            pending += chunk
            *lines, pending = pending.split(b"\n")
            if len(pending) > _MAX_LINE_BYTES or (not chunk and pending):
                lines.append(pending)
                pending = b""
            for raw in lines:
                line = redact(strip_ansi(raw.decode(errors="replace")), secrets=self._secrets)
                if line.strip():
                    tail.append(line)
                if on_output is not None:
                    try:
                        await on_output(line)
                    except Exception:
                        log.warning("on_output failed; the deploy goes on", exc_info=True)
            if not chunk:
                return

    @staticmethod
    async def _exited(proc: asyncio.subprocess.Process) -> None:
        """Return as soon as the command itself exits. (``proc.wait()`` also waits for its
        output to close, which a left-behind background process can hold open.)"""
        waiter = asyncio.ensure_future(proc.wait())
        gone_polls = 0
        try:
            while proc.returncode is None:
                await asyncio.wait({waiter}, timeout=_POLL_S)
                # The exit is reported by asyncio's child watcher. If the process no longer
                # exists and no report came for a while, the report was lost (seen once
                # under load): stop waiting rather than hang the worker for ever.
                try:
                    os.kill(proc.pid, 0)
                    gone_polls = 0
                except ProcessLookupError:
                    gone_polls += 1
                    if gone_polls * _POLL_S >= _LOST_EXIT_S:
                        log.error("exit of pid %d was never reported; giving up on it", proc.pid)
                        return
                except PermissionError:
                    gone_polls = 0
        finally:
            waiter.cancel()

    async def _settled(
        self, proc: asyncio.subprocess.Process, reader: asyncio.Task[None], wait_s: float
    ) -> bool:
        """Wait up to ``wait_s`` for the command to exit and its output to close."""
        waiter = asyncio.ensure_future(proc.wait())
        _, pending = await asyncio.wait({waiter, reader}, timeout=wait_s)
        if waiter in pending:
            waiter.cancel()
        return not pending

    async def _stop(self, proc: asyncio.subprocess.Process, reader: asyncio.Task[None]) -> None:
        """SIGTERM the process group; SIGKILL whatever is left of it after the grace period
        (or as soon as the command has exited and its output is closed)."""
        self._signal(proc, signal.SIGTERM)
        await self._settled(proc, reader, self._grace_s)
        self._signal(proc, signal.SIGKILL)  # children that ignore SIGTERM or closed stdout
        await self._exited(proc)
        if not await self._settled(proc, reader, _SETTLE_AFTER_KILL_S):
            reader.cancel()  # someone outside the group holds the output open

    @staticmethod
    def _signal(proc: asyncio.subprocess.Process, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
