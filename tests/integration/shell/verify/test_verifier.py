"""Verifier against real local servers and real processes: an aiohttp HTTP server whose
health answer a test flips mid-verification, a real command check (a script that turns
unhealthy when a file appears), and a stand-in of the Prometheus query API whose value a
test pushes over the threshold. Rounds every 0.1 s for about 1 s."""

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.core.config.config import Config
from bot.core.config.service import Check, CommandCheck, HttpCheck, PrometheusCheck
from bot.core.policy.verification import Verified, VerifyFailed
from bot.core.thread.plan import Plan
from bot.core.wording.redact import MASK
from bot.shell.verify.checks import Verifier
from bot.shell.verify.timings import VerifyTimings
from tests.fakes.prometheus_api import FakePrometheus

PLAN = Plan(
    kind="deploy",
    service="backend",
    environment="production",
    version="v1.4.2",
    sha="0123456789abcdef0123456789abcdef01234567",
    previous_version="v1.4.1",
    requester="carol",
)
SECRET = "verify-s3cret-value"
INTERVAL_S = 0.1
VERIFY_S = 1.0

# Records its environment and pid; unhealthy (exit 1, printing a secret) once ./broken
# exists; sleeps ./sleep_s seconds first.
CHECK_SH = """#!/bin/sh
here="$(dirname "$0")"
env > "$here/env.txt"
echo $$ > "$here/pid"
echo "$*" >> "$here/calls.log"
sleep "$(cat "$here/sleep_s" 2>/dev/null || echo 0)"
if [ -f "$here/broken" ]; then
  echo "smoke test of $1 failed"
  echo "login with $(cat "$here/broken") refused; Authorization: Bearer abc123def456"
  exit 1
fi
echo "smoke test of $1 ok"
"""


ERRORS_5XX = 'sum(rate(errors_total{code=~"5.."}[5m]))'


@dataclass
class Server:
    """The service's health endpoint; ``prometheus`` is the fake of Prometheus's query API."""

    prometheus: FakePrometheus
    health_status: int = 200
    health_body: str = '{"status": "ok", "version": "v1.4.2"}'
    health_delay_s: float = 0
    health_answers: list[int] = field(default_factory=list)
    url: str = ""

    async def health(self, request: web.Request) -> web.Response:
        self.health_answers.append(self.health_status)
        await asyncio.sleep(self.health_delay_s)
        return web.Response(status=self.health_status, text=self.health_body)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    async with FakePrometheus() as prometheus:
        prometheus.set(ERRORS_5XX, 0.2)
        state = Server(prometheus=prometheus)
        app = web.Application()
        app.router.add_get("/healthz", state.health)
        runner = web.AppRunner(app, shutdown_timeout=0.2)  # do not wait for a slow answer
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        state.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        yield state
        await runner.cleanup()


def write_check(base: Path) -> Path:
    path = base / "scripts" / "check.sh"
    path.parent.mkdir(exist_ok=True)
    path.write_text(CHECK_SH)
    path.chmod(0o755)
    return path.parent


def config(base: Path, server: Server) -> Config:
    return Config.model_validate(
        {
            "services": {
                "backend": {
                    "repo": "repos/backend",
                    "deploy": ["./scripts/deploy.sh"],
                    "environments": ["production"],
                    "pass_env": ["SMOKE_REGION"],
                }
            },
            "environments": {"production": {}},
            "prometheus_url": server.prometheus.base_url,
            "base_dir": base,
        }
    )


def verifier(base: Path, server: Server, **kwargs: Any) -> Verifier:
    return Verifier(
        config=config(base, server),
        secrets=[SECRET],
        timings=VerifyTimings(interval_s=kwargs.pop("interval_s", INTERVAL_S), grace_s=0.5),
        # As the bot does (tests/conftest.py sets it when the tests run as root).
        run_as_root=os.environ.get("DEPLOYBOT_RUN_COMMANDS_AS_ROOT") == "true",
        **kwargs,
    )


def checks(server: Server) -> list[Check]:
    return [
        HttpCheck(http=f"{server.url}/healthz", body_contains_version=True, timeout_s=1),
        CommandCheck(command=["./scripts/check.sh", "{service}", "{version}"], timeout_s=2),
        PrometheusCheck(prometheus=ERRORS_5XX, below=1),
    ]


def process_state(pid: int) -> str:
    """The process's state letter (Z: a zombie, dead), or "gone"."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return "gone"
    return next(line.split()[1] for line in status.splitlines() if line.startswith("State:"))


def recorded_pid(scripts: Path) -> int | None:
    text = (scripts / "pid").read_text().strip() if (scripts / "pid").exists() else ""
    return int(text) if text else None


def after(delay_s: float, change: Callable[[], object]) -> asyncio.TimerHandle:
    return asyncio.get_running_loop().call_later(delay_s, change)


async def test_all_green_is_verified_with_progress(
    tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripts = write_check(tmp_path)
    monkeypatch.setenv("SMOKE_REGION", "eu-west-1")
    monkeypatch.setenv("REDIS_URL", "redis://secret-host:6379/0")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-0000-not-for-checks")
    said: list[str] = []

    async def progress(text: str) -> None:
        said.append(text)

    result = await verifier(tmp_path, server).verify(
        PLAN, checks=checks(server), verify_s=VERIFY_S, on_progress=progress
    )
    assert isinstance(result, Verified), result
    assert result.text == "Verified backend v1.4.2 in production: 3 checks green for 1 s."
    # a round every 0.1 s for 1 s, and one at the end: each check ran every round
    assert 3 <= result.rounds <= 12  # fewer when the machine is busy: never a full interval late
    assert len(server.health_answers) == result.rounds
    assert server.prometheus.queries == [ERRORS_5XX] * result.rounds
    assert (scripts / "calls.log").read_text().splitlines() == ["backend v1.4.2"] * result.rounds
    assert said[0] == "Verifying backend v1.4.2 in production: 3 of 3 checks green, 1 s left"
    assert len(said) <= result.rounds - 1
    # the command check got a deploy command's minimal environment
    env = dict(
        line.split("=", 1) for line in (scripts / "env.txt").read_text().splitlines() if "=" in line
    )
    assert env["SMOKE_REGION"] == "eu-west-1"
    assert env["DEPLOYBOT_VERSION"] == "v1.4.2"
    assert "REDIS_URL" not in env
    assert "SLACK_BOT_TOKEN" not in env


async def test_a_health_flip_fails_after_two_rounds_naming_the_check(
    tmp_path: Path, server: Server
) -> None:
    write_check(tmp_path)

    def flip() -> None:
        server.health_status = 503
        server.health_body = "upstream connect error"

    handle = after(0.35, flip)
    result = await verifier(tmp_path, server).verify(PLAN, checks=checks(server), verify_s=VERIFY_S)
    handle.cancel()
    assert isinstance(result, VerifyFailed), result
    assert result.text == (
        "Verification of backend v1.4.2 in production failed: "
        f"http {server.url}/healthz: status 503, expected 200: upstream connect error"
    )
    assert server.health_answers[-2:] == [503, 503]
    assert server.health_answers.count(503) == 2  # failed at the second failure in a row
    assert 0.35 < result.after_s < VERIFY_S + 1


async def test_a_body_without_the_version_fails(tmp_path: Path, server: Server) -> None:
    write_check(tmp_path)
    server.health_body = '{"status": "ok", "version": "v1.4.1"}'
    result = await verifier(tmp_path, server).verify(
        PLAN, checks=checks(server)[:1], verify_s=VERIFY_S
    )
    assert isinstance(result, VerifyFailed), result
    assert [f.reason for f in result.failures] == ["the body does not contain v1.4.2"]
    assert result.rounds == 2


async def test_a_huge_body_is_read_only_to_64_kib_and_a_slow_answer_times_out(
    tmp_path: Path, server: Server
) -> None:
    write_check(tmp_path)
    server.health_body = "x" * (8 * 1024 * 1024) + " v1.4.2"
    http = HttpCheck(http=f"{server.url}/healthz", body_contains_version=True, timeout_s=1)
    huge = await verifier(tmp_path, server).verify(PLAN, checks=[http], verify_s=VERIFY_S)
    assert isinstance(huge, VerifyFailed), huge
    assert huge.failures[0].reason == "the body does not contain v1.4.2 (first 64 KiB read)"

    server.health_body, server.health_delay_s = "v1.4.2", 5
    slow = HttpCheck(http=f"{server.url}/healthz", timeout_s=0.3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    late = await verifier(tmp_path, server).verify(PLAN, checks=[slow], verify_s=VERIFY_S)
    assert isinstance(late, VerifyFailed), late
    assert late.failures[0].reason == "no answer in 0.3 s"
    assert late.failures[0].no_data
    assert late.text.endswith(f"failed: no data for {server.url}/healthz: no answer in 0.3 s")
    assert loop.time() - started < 2


async def test_prometheus_over_the_threshold_and_error_answers_fail_with_a_reason(
    tmp_path: Path, server: Server
) -> None:
    fake = server.prometheus
    prom = checks(server)[2:]
    after(0.25, lambda: fake.set(ERRORS_5XX, 3.5))
    over = await verifier(tmp_path, server).verify(PLAN, checks=prom, verify_s=VERIFY_S)
    assert isinstance(over, VerifyFailed), over
    assert over.failures[0].reason == "not below 1: 3.5"  # a sum has no labels: no "{}"
    assert over.failures[0].check == f"prometheus {ERRORS_5XX}"

    fake.set(ERRORS_5XX, 0)
    fake.fail(ERRORS_5XX, 503, times=2)
    down = await verifier(tmp_path, server).verify(PLAN, checks=prom, verify_s=VERIFY_S)
    assert isinstance(down, VerifyFailed), down
    assert down.failures[0].reason == "Prometheus error (unavailable): injected failure"
    assert down.failures[0].no_data
    assert down.text.endswith(f"failed: no data for {ERRORS_5XX}: {down.failures[0].reason}")
    assert down.rounds == 2

    blank = PrometheusCheck(prometheus=" ", below=1)  # Prometheus refuses the expression
    bad = await verifier(tmp_path, server).verify(PLAN, checks=[blank], verify_s=VERIFY_S)
    assert isinstance(bad, VerifyFailed), bad
    assert bad.failures[0].reason == (
        'Prometheus refuses the query (bad_data): invalid parameter "query": empty expression'
    )
    assert not bad.failures[0].no_data  # a wrong check is no outage: on_no_data cannot hide it
    ignoring = blank.model_copy(update={"on_no_data": "ignore"})
    still = await verifier(tmp_path, server).verify(PLAN, checks=[ignoring], verify_s=VERIFY_S)
    assert isinstance(still, VerifyFailed), still


async def test_a_prometheus_blip_passes_but_an_empty_vector_is_no_data(
    tmp_path: Path, server: Server
) -> None:
    fake = server.prometheus
    fake.fail(ERRORS_5XX, 503, times=1)  # one failing round: not a failure
    missing = PrometheusCheck(prometheus="rate(no_such_series[5m])", below=1)
    result = await verifier(tmp_path, server).verify(
        PLAN, checks=[*checks(server)[2:], missing], verify_s=0.5
    )
    assert isinstance(result, VerifyFailed), result
    assert result.text == (
        "Verification of backend v1.4.2 in production failed: no data for "
        "rate(no_such_series[5m]): the query returned no series (no such metric, or nothing "
        "reports it)"
    )
    assert [f.check for f in result.failures] == ["prometheus rate(no_such_series[5m])"]
    assert "rate(no_such_series[5m])" in fake.queries

    ignored = missing.model_copy(update={"on_no_data": "ignore"})
    fake.fail(ERRORS_5XX, 503, times=1)
    result = await verifier(tmp_path, server).verify(
        PLAN, checks=[*checks(server)[2:], ignored], verify_s=0.5
    )
    assert isinstance(result, Verified), result
    assert result.checks == 1  # nothing observed is never counted green
    assert result.text.endswith(
        "1 check green for 0.5 s; no data (ignored as configured) for rate(no_such_series[5m])."
    )


async def test_a_failing_command_check_is_reported_redacted(tmp_path: Path, server: Server) -> None:
    scripts = write_check(tmp_path)
    after(0.25, lambda: (scripts / "broken").write_text(SECRET))
    result = await verifier(tmp_path, server).verify(
        PLAN, checks=checks(server)[1:2], verify_s=VERIFY_S
    )
    assert isinstance(result, VerifyFailed), result
    reason = result.failures[0].reason
    assert reason == (
        f"exit 1: smoke test of backend failed | login with {MASK} refused; "
        f"Authorization: Bearer {MASK}"
    )
    assert SECRET not in result.text
    assert "abc123def456" not in result.text
    assert result.text.startswith(
        "Verification of backend v1.4.2 in production failed: "
        "command ./scripts/check.sh {service} {version}: exit 1"
    )


async def test_a_hanging_command_check_is_stopped_at_its_timeout(
    tmp_path: Path, server: Server
) -> None:
    scripts = write_check(tmp_path)
    (scripts / "sleep_s").write_text("30")
    check = CommandCheck(command=["./scripts/check.sh", "{service}"], timeout_s=0.3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await verifier(tmp_path, server).verify(PLAN, checks=[check], verify_s=VERIFY_S)
    assert isinstance(result, VerifyFailed), result
    assert "timed out after 0.3 s" in result.failures[0].reason
    assert loop.time() - started < 5
    state = process_state(int((scripts / "pid").read_text()))
    assert state in ("gone", "Z"), f"the check's process is still there ({state})"


async def test_an_unreachable_endpoint_is_a_failure_not_a_crash(
    tmp_path: Path, server: Server
) -> None:
    with socket.socket() as sock:  # a port nothing listens on once the socket is closed
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    server.prometheus.base_url = f"http://127.0.0.1:{free}"
    dead = HttpCheck(http=f"http://127.0.0.1:{free}/healthz", timeout_s=1)
    prom = PrometheusCheck(prometheus="up", below=1)
    result = await verifier(tmp_path, server).verify(PLAN, checks=[dead, prom], verify_s=VERIFY_S)
    assert isinstance(result, VerifyFailed), result
    reasons = [f.reason for f in result.failures]
    assert reasons[0].startswith(f"unreachable: Cannot connect to host 127.0.0.1:{free}"), reasons
    assert reasons[1].startswith("Prometheus unreachable: Cannot connect to host"), reasons
    assert result.rounds == 2


async def test_cancelling_a_verification_stops_a_running_command_check(
    tmp_path: Path, server: Server
) -> None:
    scripts = write_check(tmp_path)
    (scripts / "sleep_s").write_text("30")
    check = CommandCheck(command=["./scripts/check.sh", "{service}"], timeout_s=20)
    task = asyncio.create_task(
        verifier(tmp_path, server).verify(PLAN, checks=[check], verify_s=VERIFY_S)
    )
    pid = None
    for _ in range(250):  # until the check runs
        await asyncio.sleep(0.02)
        if pid := recorded_pid(scripts):
            break
    assert pid is not None, "the command check never started"
    assert process_state(pid) not in ("gone", "Z")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert process_state(pid) in ("gone", "Z")
