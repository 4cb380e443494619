"""The verifier: watches a deployed version by running its checks in rounds (the I/O part;
bot/core/policy/verification.py holds the rules, bot/core/policy/check_results.py decides
one check's result from the facts reported here, bot/core/wording has the words).

Every ``interval_s`` (from the start of one round to the start of the next) all checks run
at once; after the last full interval one more round runs at ``verify_s``, so "verified"
means green at the end too. A check fails the run after ``failures_to_fail`` failing rounds
in a row (default 2: one blip does not roll a release back); see bot/core/policy/verification.py.

- HTTP: a GET on a new connection (no stale keep-alive can fail or pass a probe), redirects
  followed, ``timeout_s`` for the whole answer; the status must equal ``expect_status``;
  with ``body_contains_version`` the first 64 KiB of the body must contain the version. No
  answer in time, or no connection at all, is no data.
- Command: the argv (placeholders filled, ``./`` relative to the config's folder) runs as a
  deploy command does: the deploy's minimal environment (bot/core/config/childenv.py, the service's
  pass_env), under the deployer's supervisor, stopped with all it started at ``timeout_s``.
  Its exit code is what it observes (exit 0 is healthy); stopped at ``timeout_s`` it observed
  nothing (no data); a command that cannot start is a broken check. Its output is redacted
  before it becomes a reason.
- Prometheus: ``GET <prometheus_url>/api/v1/query?query=...`` (bot/shell/verify/prometheus.py judges
  the answer: no series, NaN or an error answer is no data). No answer is no data.

Every result is settled by its check's ``on_no_data`` (bot/core/policy/verification.py: no data
fails unless the check ignores it) before it counts. Nothing here raises for a failing check: an
unreachable server, a timeout, an error answer or an unexpected exception is that check's
failure, with a reason.
"""

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Sequence

import aiohttp

from bot.core.config.config import Config
from bot.core.config.service import Check, CommandCheck, HttpCheck, PrometheusCheck
from bot.core.policy.check_results import (
    Answered,
    Fetched,
    NoAnswer,
    Unreachable,
    check_crashed,
    command_result,
    http_result,
    no_prometheus_url,
    prometheus_too_big,
    prometheus_unanswered,
)
from bot.core.policy.supersession import Superseded
from bot.core.policy.verification import (
    ProbeResult,
    Tally,
    Verified,
    VerifyFailed,
    Verifying,
    fill_argv,
    judge,
    progress_text,
    settle,
    tally_round,
)
from bot.core.thread.plan import Plan
from bot.core.wording.redact import SECRET_ENV_NAMES
from bot.shell.process.command_deployer import CommandDeployer
from bot.shell.verify.prometheus import prometheus_result
from bot.shell.verify.timings import (
    DEFAULT_VERIFY_TIMINGS,
    SYSTEM_STOPWATCH,
    Stopwatch,
    VerifyTimings,
)

__all__ = ["Clock", "OnProgress", "Probe", "Sleep", "StillCurrent", "Verifier"]

log = logging.getLogger(__name__)

Clock = Callable[[], float]  # seconds, monotonic
Sleep = Callable[[float], Awaitable[None]]
OnProgress = Callable[[str], Awaitable[None]]
# (check, plan, idempotency key) -> result; the verifier's own by default (tests swap it).
Probe = Callable[[Check, Plan, str], Awaitable[ProbeResult]]
# None while the deploy being verified is still its pair's newest (bot/core/policy/supersession.py).
StillCurrent = Callable[[], Awaitable[Superseded | None]]

BODY_BYTES = 64 * 1024
_PROMETHEUS_BYTES = 1024 * 1024


async def _read_at_most(stream: aiohttp.StreamReader, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < max_bytes and (chunk := await stream.read(max_bytes - size)):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


class Verifier:
    def __init__(
        self,
        *,
        config: Config,
        secrets: Sequence[str] = (),
        run_as_root: bool = False,
        timings: VerifyTimings = DEFAULT_VERIFY_TIMINGS,
        stopwatch: Stopwatch = SYSTEM_STOPWATCH,
        probe: Probe | None = None,
    ) -> None:
        self._config = config
        own = [os.environ[name] for name in SECRET_ENV_NAMES if os.environ.get(name)]
        self._secrets = tuple(dict.fromkeys([*secrets, *own]))
        self._interval_s = timings.interval_s
        self._failures_to_fail = timings.failures_to_fail
        self._clock = stopwatch.now_s
        self._sleep = stopwatch.sleep
        self._probe_one = probe
        # Command checks run exactly as deploy commands do (environment, supervisor, the
        # user they run as: ``run_as_root`` is DEPLOYBOT_RUN_COMMANDS_AS_ROOT, as for them).
        self._commands = CommandDeployer(
            config=config,
            secrets=self._secrets,
            grace_s=timings.grace_s,
            run_as_root=run_as_root,
        )

    async def verify(
        self,
        plan: Plan,
        *,
        checks: Sequence[Check],
        verify_s: float,
        on_progress: OnProgress | None = None,
        idempotency_key: str = "",
        still_current: StillCurrent | None = None,
    ) -> Verified | VerifyFailed | Superseded:
        """Watch ``plan``'s version for ``verify_s`` seconds; never raises for a failing
        check. ``on_progress`` gets at most one text per round (only when it changed); its
        errors are logged. The final text is the returned value's ``text``.
        ``still_current`` is asked before each round and before the verdict: once a newer
        deploy of the pair started, the verification stops with what it says."""
        if not checks:
            raise ValueError("nothing to verify: no checks")
        if verify_s <= 0:
            raise ValueError("verify_s must be > 0")
        started = self._clock()
        tally = Tally()
        shown: str | None = None
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(
            connector=connector, headers={"User-Agent": "deploybot-verifier"}
        ) as session:
            while True:
                round_started = self._clock()
                if still_current is not None and (gone := await still_current()):
                    return gone
                results = await asyncio.gather(
                    *(self._probe(session, check, plan, idempotency_key) for check in checks)
                )
                if still_current is not None and (gone := await still_current()):
                    return gone  # this round may have seen the newer deploy: not counted
                settled = [settle(c, r) for c, r in zip(checks, results, strict=True)]
                tally = tally_round(tally, settled)
                verdict = judge(
                    plan,
                    checks,
                    tally,
                    elapsed_s=self._clock() - started,
                    verify_s=verify_s,
                    failures_to_fail=self._failures_to_fail,
                    secrets=self._secrets,
                )
                if not isinstance(verdict, Verifying):
                    return verdict
                text = progress_text(plan, verdict)
                if on_progress is not None and text != shown:
                    shown = text
                    try:
                        await on_progress(text)
                    except Exception:
                        log.warning("on_progress failed; verification goes on", exc_info=True)
                next_at = round_started + self._interval_s
                if round_started < started + verify_s:  # a last round exactly at the end
                    next_at = min(next_at, started + verify_s)
                await self._sleep(max(next_at - self._clock(), 0))

    async def _probe(
        self, session: aiohttp.ClientSession, check: Check, plan: Plan, idempotency_key: str
    ) -> ProbeResult:
        try:
            if self._probe_one is not None:
                return await self._probe_one(check, plan, idempotency_key)
            match check:
                case HttpCheck():
                    return await self._http(session, check, plan)
                case CommandCheck():
                    return await self._command(check, plan, idempotency_key)
                case PrometheusCheck():
                    return await self._prometheus(session, check)
        except Exception as exc:  # a check's trouble is its failure, never the run's crash
            log.warning("check failed unexpectedly", exc_info=True)
            return check_crashed(error_type=type(exc).__name__, error=str(exc))

    @staticmethod
    async def _get(
        session: aiohttp.ClientSession, url: str, *, params: dict[str, str], max_bytes: int
    ) -> tuple[int, bytes]:
        async with session.get(url, params=params) as response:
            return response.status, await _read_at_most(response.content, max_bytes)

    async def _http(
        self, session: aiohttp.ClientSession, check: HttpCheck, plan: Plan
    ) -> ProbeResult:
        fetched: Fetched
        try:
            async with asyncio.timeout(check.timeout_s):
                status, body = await self._get(session, check.http, params={}, max_bytes=BODY_BYTES)
        except TimeoutError:
            fetched = NoAnswer(timeout_s=check.timeout_s)
        except aiohttp.ClientError as exc:
            fetched = Unreachable(error=f"{exc or type(exc).__name__}")
        else:
            fetched = Answered(
                status=status,
                body=body.decode("utf-8", errors="replace"),
                cut_at_bytes=BODY_BYTES if len(body) >= BODY_BYTES else None,
            )
        return http_result(check, version=plan.version, fetched=fetched)

    async def _command(self, check: CommandCheck, plan: Plan, idempotency_key: str) -> ProbeResult:
        template = [self._config.argv_path(arg) for arg in check.command]
        argv = fill_argv(template, plan=plan, idempotency_key=idempotency_key)
        # Run as a deploy command runs: its environment, supervised, output redacted.
        result = await self._commands.run_argv(
            argv=argv, plan=plan, idempotency_key=idempotency_key, timeout_s=check.timeout_s
        )
        return command_result(check, ran=result)

    async def _prometheus(
        self, session: aiohttp.ClientSession, check: PrometheusCheck
    ) -> ProbeResult:
        base = self._config.prometheus_url
        if base is None:
            return no_prometheus_url()
        try:
            async with asyncio.timeout(check.timeout_s):
                status, body = await self._get(
                    session,
                    f"{base.rstrip('/')}/api/v1/query",
                    params={"query": check.prometheus},
                    max_bytes=_PROMETHEUS_BYTES + 1,
                )
        except TimeoutError:
            return prometheus_unanswered(NoAnswer(timeout_s=check.timeout_s))
        except aiohttp.ClientError as exc:
            return prometheus_unanswered(Unreachable(error=f"{exc or type(exc).__name__}"))
        if len(body) > _PROMETHEUS_BYTES:
            return prometheus_too_big(limit_bytes=_PROMETHEUS_BYTES)
        return prometheus_result(status, body, below=check.below)
