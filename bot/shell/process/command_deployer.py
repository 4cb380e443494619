"""The deployer: runs a service's deploy (or rollback) command for an approved plan.

The command is the plan's argv (``deploy_command``: the config's template with placeholders
filled in per argument); it never passes through a shell. It runs in the config
file's folder (as another user: in a private folder) with a minimal environment
(bot/core/config/childenv.py: a short allowlist, the service's ``pass_env``, and the deploy
variables of ``deploy_command``).

It runs under a supervisor process (bot/shell/process/supervisor.py), forked for it by this
process's supervisor server (``forkserver``, or the one ``server=`` names), that keeps
everything the command starts below it and stops all of it when the command times out, when
the run is cancelled, when the command exits leaving processes behind (after ``grace_s``),
and when the worker dies (within about a second). Stopping is SIGTERM to every descendant,
then SIGKILL after ``grace_s``. The deploy is over when the command
and everything it started are gone; the environment lock is released after that.

Who runs it is decided per command (``bot.core.config.principal``, ``users``): a root bot's
supervisor switches to ``run_as`` (else ``nobody``) before exec; a refusal (an unknown user,
root without the opt-in) fails the deploy before anything runs.

Its stdout and stderr are merged and read in large blocks; only the last 64 KiB are kept
(bot/shell/process/outputtail.py), redacted as a whole, then cut to a few lines for the result
(bot/core/thread/deploy_result.py).
"""

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Sequence
from typing import Literal

from bot.core.config.childenv import child_env
from bot.core.config.config import Config
from bot.core.config.principal import Refused
from bot.core.reports import command_run as words
from bot.core.thread.deploy_result import DeployResult, Keepalive, OnOutput
from bot.core.thread.plan import Plan
from bot.core.thread.text.outside import clean
from bot.core.wording.redact import SECRET_ENV_NAMES, compact_tail, redact, strip_ansi
from bot.shell.process.deploy_command import command_argv, command_template, deploy_variables
from bot.shell.process.forkserver import default_server
from bot.shell.process.outputtail import OutputTail
from bot.shell.process.supervisor import User
from bot.shell.process.supervisor_link import Request, Supervisors, beat, finish, stop
from bot.shell.process.users import Account, command_account

__all__ = ["CommandDeployer"]

log = logging.getLogger(__name__)

_CHUNK_BYTES = 1024 * 1024
_Outcome = Literal["succeeded", "failed", "timed_out"]


class CommandDeployer:
    def __init__(
        self,
        *,
        config: Config,
        secrets: Sequence[str],
        grace_s: float = 5,
        run_as_root: bool = False,
        server: Supervisors | None = None,
    ) -> None:
        if grace_s < 0:
            raise ValueError("grace_s must be >= 0")
        self._config = config
        self._run_as_root = run_as_root  # DEPLOYBOT_RUN_COMMANDS_AS_ROOT
        # deploybot's own secrets from the environment are always redacted too.
        own = [os.environ[name] for name in SECRET_ENV_NAMES if os.environ.get(name)]
        self._secrets = tuple(dict.fromkeys([*secrets, *own]))
        self._grace_s = grace_s
        # Per service: its commands' environment but the deploy variables. The bot's own
        # environment does not change while it runs: read once, at a service's first command.
        self._service_env: dict[str, dict[str, str]] = {}
        # This process's supervisor server (forkserver) unless told otherwise.
        self._supervisors = server if server is not None else default_server()

    # -- the pure parts ------------------------------------------------------------------

    def argv(self, *, plan: Plan, idempotency_key: str = "", status: bool = False) -> list[str]:
        """The exact argv for ``plan`` (its status command when ``status``)."""
        return command_argv(self._config, plan, idempotency_key=idempotency_key, status=status)

    def env(self, *, plan: Plan, idempotency_key: str, fencing_token: int) -> dict[str, str]:
        """The whole environment of the plan's commands (deploy, rollback and status)."""
        base = self._service_env.get(plan.service)
        if base is None:
            base = self._service_env[plan.service] = child_env(
                os.environ,
                deploy={},
                pass_env=self._config.services[plan.service].pass_env,
                secrets=self._secrets,
            )
        return base | deploy_variables(
            plan, idempotency_key=idempotency_key, fencing_token=fencing_token
        )

    # -- running -------------------------------------------------------------------------

    async def run(
        self,
        *,
        plan: Plan,
        idempotency_key: str,
        fencing_token: int,
        on_output: OnOutput | None = None,
        keepalive: Keepalive | None = None,
        silence_s: float | None = None,
    ) -> DeployResult:
        """Run the command for ``plan`` to the end; never raises for a failing command.

        ``on_output`` gets the latest redacted output line after each block of output read
        (lines in between may be skipped: output is read in large blocks); keep it cheap.
        Its errors are logged, not raised. Cancelling ``run`` stops the command and all it
        started (SIGTERM, then SIGKILL after the grace period) and waits before re-raising.

        ``keepalive`` and ``silence_s``: a dead-man's switch. While ``keepalive.fresh()`` the
        worker tells the supervisor it is alive; after ``silence_s`` without a word (the worker
        is stopped or stuck, or it lost the lock) the supervisor stops the command itself.
        """
        return await self._run(
            plan=plan,
            argv=self.argv(plan=plan, idempotency_key=idempotency_key),
            env=self.env(plan=plan, idempotency_key=idempotency_key, fencing_token=fencing_token),
            shown=command_template(self._config, plan)[0],
            timeout_s=self._config.services[plan.service].timeout_s,
            on_output=on_output,
            keepalive=keepalive,
            silence_s=silence_s,
        )

    async def run_argv(
        self,
        *,
        argv: list[str],
        plan: Plan,
        idempotency_key: str,
        timeout_s: float,
        fencing_token: int = 0,
    ) -> DeployResult:
        """Run an already-filled ``argv`` exactly as the plan's deploy command runs: its
        environment, the config's folder, supervised, stopped at ``timeout_s``, output
        redacted (a verification's command check)."""
        return await self._run(
            plan=plan,
            argv=argv,
            env=self.env(plan=plan, idempotency_key=idempotency_key, fencing_token=fencing_token),
            shown=argv[0],
            timeout_s=timeout_s,
            on_output=None,
        )

    async def status(
        self, *, plan: Plan, idempotency_key: str, fencing_token: int
    ) -> DeployResult | None:
        """Run the service's status command for a deploy (same environment, supervision and
        timeout as the deploy); None when the service has none. Its exit code says: 0
        succeeded, 1 failed, 3 (or anything else) unknown."""
        if not self._config.services[plan.service].status:
            return None
        return await self._run(
            plan=plan,
            argv=self.argv(plan=plan, idempotency_key=idempotency_key, status=True),
            env=self.env(plan=plan, idempotency_key=idempotency_key, fencing_token=fencing_token),
            shown=command_template(self._config, plan, status=True)[0],
            timeout_s=self._config.services[plan.service].timeout_s,
            on_output=None,
        )

    async def _run(
        self,
        *,
        plan: Plan,
        argv: list[str],
        env: dict[str, str],
        shown: str,
        timeout_s: float,
        on_output: OnOutput | None,
        keepalive: Keepalive | None = None,
        silence_s: float | None = None,
    ) -> DeployResult:
        started = time.monotonic()
        account = command_account(  # who runs it (None: the bot's own user)
            self._config,
            service=plan.service,
            environment=plan.environment,
            root_allowed=self._run_as_root,
        )
        if isinstance(account, Refused):
            return self._result(
                "failed", None, started, words.cannot_run(shown, why=account.reason)
            )
        user: User | None = None
        if isinstance(account, Account):  # its own names; its HOME (or its private folder)
            env = {k: v for k, v in env.items() if k != "HOME"}
            env |= {"USER": account.name, "LOGNAME": account.name}
            user = (account.uid, account.gid, account.groups, account.home)
        elif os.geteuid() == 0:
            log.warning("running %s as root (DEPLOYBOT_RUN_COMMANDS_AS_ROOT)", shown)
        alive_r, alive_w = os.pipe() if keepalive is not None else (None, None)
        request = Request(
            argv=argv,
            env=env,
            cwd=str(self._config.base_dir),
            grace_s=self._grace_s,
            keepalive_fd=alive_r,
            silence_s=silence_s if alive_r is not None else None,
            user=user,
        )
        try:
            supervised = await self._supervisors.start(request)
        except OSError as exc:
            if alive_w is not None:
                os.close(alive_w)
            return self._result("failed", None, started, words.cannot_run(shown, why=exc))
        finally:
            if alive_r is not None:
                os.close(alive_r)
        beating = (
            asyncio.create_task(beat(alive_w, keepalive, every_s=(silence_s or 1.0) / 4))
            if alive_w is not None and keepalive is not None
            else None
        )
        events = supervised.status
        tail = OutputTail()
        reader = asyncio.create_task(self._read(supervised.output, tail=tail, on_output=on_output))
        timed_out = False
        notes: list[str] = []
        try:
            try:
                async with asyncio.timeout(timeout_s):
                    await events.until_exit()
            except TimeoutError:
                timed_out = True
                await stop(supervised, reader, grace_s=self._grace_s)
                notes.append(words.timed_out_note(timeout_s=timeout_s))
            else:
                await finish(supervised, reader, limit_s=3 * self._grace_s, grace_s=self._grace_s)
        except BaseException:
            # Cancelled (the worker is stopping): stop the command and all it started before
            # going. Shielded: a second cancel cannot interrupt the clean-up half way.
            with contextlib.suppress(BaseException):
                await asyncio.shield(stop(supervised, reader, grace_s=self._grace_s))
            raise
        finally:
            events.close()
            supervised.close()
            if beating is not None:
                beating.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await beating
            if alive_w is not None:
                os.close(alive_w)
        if reader.done() and not reader.cancelled() and (error := reader.exception()):
            log.error("reading the deploy output failed", exc_info=error)
        if (why := events.cannot_run) is not None:
            return self._result("failed", None, started, words.cannot_run(shown, why=why))
        if events.leftovers and not timed_out:
            notes.append(words.leftovers_stopped_note())
        code = events.exit_code
        if code is None and not timed_out:
            notes.append(words.exit_status_lost_note())
        result: _Outcome
        result = "timed_out" if timed_out else ("succeeded" if code == 0 else "failed")
        return self._result(result, code, started, "\n".join([tail.text(), *notes]))

    def _result(
        self, result: _Outcome, code: int | None, started: float, text: str
    ) -> DeployResult:
        # Redacted as a whole before compact_tail cuts it to a few lines.
        return DeployResult(
            result=result,
            exit_code=code,
            duration_s=time.monotonic() - started,
            output_tail=compact_tail(redact(strip_ansi(text), secrets=self._secrets)),
        )

    def _line(self, raw: str) -> str:
        return clean(redact(strip_ansi(raw), secrets=self._secrets), kind="line")

    async def _read(
        self, stream: asyncio.StreamReader, *, tail: OutputTail, on_output: OnOutput | None
    ) -> None:
        """Keep the end of the output; after each block, forward its last line."""
        last_sent: str | None = None
        while chunk := await stream.read(_CHUNK_BYTES):
            tail.feed(chunk)
            if on_output is None or (raw := tail.last_line()) is None:
                continue
            line = self._line(raw)
            if not line or line == last_sent:
                continue
            last_sent = line
            try:
                await on_output(line)
            except Exception:
                log.warning("on_output failed; the deploy goes on", exc_info=True)
