"""No data is not health (issue 16.2), through the real worker on real Redis with real git
tags and real deploy and rollback scripts (their call log counted): a release "takes the
service down" and every way a check can see nothing follows -- no series, NaN, Prometheus
answering 503 or a proxy's page or too late or not at all, an HTTP check with no answer in
time or no connection, a command check stopped at its timeout. Each fails the verification
with "no data for <what>" and the rollback runs (on_verify_failure = "rollback"); with
on_no_data = "ignore" the release is verified, the verdict says what saw no data, and
nothing rolls back. An observed failure is never hidden by "ignore"."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from redis.asyncio import Redis

from bot.core.thread.events import VerificationFinished
from tests.fakes.prometheus_api import FakePrometheus
from tests.support import calls, free_port, make_app, say, texts, thread_of, write_setup

Q = 'sum(rate(http_requests_total{code=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))'
SMOKE = """#!/bin/sh
here="$(dirname "$0")"
if [ -f "$here/hang" ]; then sleep 5; fi
echo smoke ok
"""


@dataclass
class World:
    """The service as the checks see it: its health endpoint and its Prometheus."""

    prometheus: FakePrometheus
    scripts: Path
    port: int
    slow: bool = False
    _runner: web.AppRunner | None = None

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/healthz"

    async def start(self) -> None:
        async def healthz(_request: web.Request) -> web.Response:
            if self.slow:
                await asyncio.sleep(0.8)
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_get("/healthz", healthz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with FakePrometheus() as prometheus:
        prometheus.set(Q, 0.01)
        state = World(prometheus=prometheus, scripts=tmp_path / "scripts", port=free_port())
        await state.start()
        yield state
        await state.stop()


def configure(tmp_path: Path, world: World, check: str) -> Path:
    config = write_setup(tmp_path)
    smoke = world.scripts / "smoke.sh"
    smoke.write_text(SMOKE)
    smoke.chmod(0o755)
    check = check.replace("HEALTH", world.health_url)
    text = config.read_text().replace(
        "[environments.staging]\napproval = false\n",
        "[environments.staging]\napproval = false\nverify_s = 0.4\n"
        f'on_verify_failure = "rollback"\nchecks = [{check}]\n',
    )
    config.write_text(f'prometheus_url = "{world.prometheus.base_url}"\n{text}')
    return config


def kinds(tmp_path: Path) -> list[list[str]]:
    return [c.split()[:3:2] for c in calls(tmp_path)]


Break = Callable[[World], Awaitable[None] | None]


async def _set(world: World, value: float | None) -> None:
    world.prometheus.set(Q, value)


async def _hang(world: World) -> None:
    (world.scripts / "hang").write_text("")


async def _slow(world: World) -> None:
    world.slow = True


PROM = f"{{ prometheus = '{Q}', below = 0.05, timeout_s = 0.3 ON_NO_DATA }}"
HTTP = '{ http = "HEALTH", timeout_s = 0.3 ON_NO_DATA }'
COMMAND = '{ command = ["./scripts/smoke.sh"], timeout_s = 0.5 ON_NO_DATA }'
CASES: list[tuple[str, str, Callable[[World], Awaitable[None]], str]] = [
    ("no series", PROM, lambda w: _set(w, None), f"no data for {Q}: the query returned no series"),
    ("NaN", PROM, lambda w: _set(w, float("nan")), f"no data for {Q}: no value: NaN"),
    (
        "503 from Prometheus",
        PROM,
        lambda w: asyncio.to_thread(w.prometheus.fail, Q, 503, times=100),
        f"no data for {Q}: Prometheus error (unavailable): injected failure",
    ),
    (
        "a proxy's error page",
        PROM,
        lambda w: asyncio.to_thread(w.prometheus.garbage, Q, 502, "<h1>Bad Gateway</h1>", times=99),
        f"no data for {Q}: status 502, not a Prometheus query answer",
    ),
    (
        "Prometheus too slow",
        PROM,
        lambda w: asyncio.to_thread(w.prometheus.delay, Q, 0.8),
        f"no data for {Q}: Prometheus did not answer in 0.3 s",
    ),
    ("Prometheus gone", PROM, lambda w: w.prometheus.stop(), "Prometheus unreachable: "),
    ("HTTP too slow", HTTP, _slow, "no data for HEALTH: no answer in 0.3 s"),
    ("HTTP refused", HTTP, lambda w: w.stop(), "no data for HEALTH: unreachable: "),
    ("command timed out", COMMAND, _hang, "no data for ./scripts/smoke.sh: "),
]


async def deploy_then_break(
    tmp_path: Path,
    redis: Redis,
    key_prefix: str,
    world: World,
    check: str,
    breaks: Callable[[World], Awaitable[None]],
) -> list[str]:
    app = make_app(redis, prefix=key_prefix, config_file=configure(tmp_path, world, check))
    await say(app, "t", "slack:U0CAROL", "deploy backend v1.4.1 to staging", new=True)
    await app.worker.run_until_idle()
    first = await thread_of(app, "t")
    assert texts(first)[-1].startswith("Verified backend v1.4.1 in staging: 1 check green"), texts(
        first
    )
    await breaks(world)  # the next release takes the service (or what watches it) down
    await say(app, "t", "slack:U0CAROL", "deploy backend v1.4.2 to staging")
    await app.worker.run_until_idle()
    thread = await thread_of(app, "t")
    [_, verdict] = [e for e in thread.events if isinstance(e, VerificationFinished)]
    return [verdict.result, verdict.summary, *texts(thread)]


@pytest.mark.parametrize(
    ("check", "breaks", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_a_check_that_sees_nothing_fails_and_the_release_is_rolled_back(
    redis: Redis,
    key_prefix: str,
    tmp_path: Path,
    world: World,
    check: str,
    breaks: Callable[[World], Awaitable[None]],
    reason: str,
) -> None:
    check = check.replace(" ON_NO_DATA", "")
    result, summary, *said = await deploy_then_break(
        tmp_path, redis, key_prefix, world, check, breaks
    )
    assert result == "failed"
    assert summary.startswith("Verification of backend v1.4.2 in staging failed: no data for ")
    assert reason.replace("HEALTH", world.health_url) in summary, summary
    assert kinds(tmp_path) == [["deploy", "v1.4.1"], ["deploy", "v1.4.2"], ["rollback", "v1.4.1"]]
    assert "checks green" not in "\n".join(said[-3:])


@pytest.mark.parametrize(
    ("check", "breaks", "reason"),
    [c[1:] for c in CASES if c[0] in ("no series", "HTTP refused", "command timed out")],
    ids=["no series", "HTTP refused", "command timed out"],
)
async def test_on_no_data_ignore_verifies_and_says_what_saw_nothing(
    redis: Redis,
    key_prefix: str,
    tmp_path: Path,
    world: World,
    check: str,
    breaks: Callable[[World], Awaitable[None]],
    reason: str,
) -> None:
    check = check.replace(" ON_NO_DATA", ', on_no_data = "ignore"')
    result, summary, *_ = await deploy_then_break(tmp_path, redis, key_prefix, world, check, breaks)
    assert result == "verified", summary
    assert summary.startswith("Verified backend v1.4.2 in staging: 0 checks green for 0.4 s; ")
    what = reason.replace("HEALTH", world.health_url).removeprefix("no data for ").split(": ")[0]
    assert f"no data (ignored as configured) for {what}" in summary, summary
    assert kinds(tmp_path) == [["deploy", "v1.4.1"], ["deploy", "v1.4.2"]]


async def test_ignore_never_hides_a_value_over_the_threshold(
    redis: Redis, key_prefix: str, tmp_path: Path, world: World
) -> None:
    check = PROM.replace(" ON_NO_DATA", ', on_no_data = "ignore"')
    world.prometheus.series(Q, [({}, 0.01)])

    async def half_down(w: World) -> None:  # one series without data, one far over
        w.prometheus.series(Q, [({"pod": "a"}, float("nan")), ({"pod": "b"}, 0.9)])

    result, summary, *_ = await deploy_then_break(
        tmp_path, redis, key_prefix, world, check, half_down
    )
    assert result == "failed"
    assert summary.endswith(': not below 0.05: {pod="b"} = 0.9'), summary
    assert "no data" not in summary
    assert kinds(tmp_path)[-1] == ["rollback", "v1.4.1"]
