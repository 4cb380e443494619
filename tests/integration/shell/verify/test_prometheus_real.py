"""A release that takes the service down, watched by the real Prometheus (Debian's
``prometheus`` binary; ./scripts/test installs it): its series goes stale and vanishes, the
instant query answers an empty vector, and the verification must fail with "no data for
<query>" and roll back -- not pass with "1 check green" as it did (issue 16.2).

Prometheus scrapes a tiny exporter every 0.5 s; the exporter is the service: it answers 503
while the broken release (v1.4.2, as the deploy script last wrote it) is live. The deploy and
rollback scripts are real and counted. Prometheus's scrape manager starts about 5 s after
the process (its discovery throttle), so the test waits for the first sample; about 9 s."""

import asyncio
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from redis.asyncio import Redis

from bot.core.thread.events import VerificationFinished
from tests.support import (
    COUNTING_SCRIPT,
    calls,
    free_port,
    make_app,
    say,
    stop_processes,
    texts,
    thread_of,
    write_setup,
)

QUERY = 'backend_error_ratio{job="backend"}'
BROKEN = "v1.4.2"


@dataclass
class Prometheus:
    url: str
    exporter_port: int


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Prometheus]:
    binary = shutil.which("prometheus")
    if binary is None:  # never a silent skip: ./scripts/test installs it
        pytest.fail("the prometheus binary is missing: apt-get install -y prometheus")
    port, exporter_port = free_port(), free_port()
    (tmp_path / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 500ms\n  scrape_timeout: 400ms\n"
        "scrape_configs:\n  - job_name: backend\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{exporter_port}']\n"
    )
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield Prometheus(url=f"http://127.0.0.1:{port}", exporter_port=exporter_port)
    finally:
        stop_processes([proc])
        log.close()


@pytest.fixture
async def exporter(tmp_path: Path, prometheus: Prometheus) -> AsyncIterator[Path]:
    """The service's /metrics; down (503) while the live version is the broken one."""
    live = tmp_path / "scripts" / "live"

    async def metrics(_request: web.Request) -> web.Response:
        version = live.read_text().strip() if live.exists() else ""
        if version == BROKEN:
            return web.Response(status=503, text="crashed")
        return web.Response(text="# TYPE backend_error_ratio gauge\nbackend_error_ratio 0.01\n")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", prometheus.exporter_port).start()
    yield live
    await runner.cleanup()


async def samples(prometheus: Prometheus) -> list[object]:
    url = f"{prometheus.url}/api/v1/query"
    try:
        async with aiohttp.ClientSession() as http, http.get(url, params={"query": QUERY}) as r:
            answer = await r.json()
    except aiohttp.ClientError:
        return []
    return list(answer["data"]["result"])


async def until_scraped(prometheus: Prometheus, *, within_s: float = 20) -> None:
    deadline = time.monotonic() + within_s
    while not await samples(prometheus):
        if time.monotonic() > deadline:
            raise AssertionError(f"Prometheus had no sample of {QUERY} after {within_s} s")
        await asyncio.sleep(0.1)


def configure(tmp_path: Path, prometheus: Prometheus) -> Path:
    config = write_setup(tmp_path)
    for name, kind in (("deploy.sh", "deploy"), ("rollback.sh", "rollback")):
        # The counting script, which also says what is live now (the exporter reads it).
        script = COUNTING_SCRIPT.replace('"$KIND"', kind).replace(
            'echo "$1 $2 is live"', 'echo "$2" > "$here/live"\necho "$1 $2 is live"'
        )
        (tmp_path / "scripts" / name).write_text(script)
    text = config.read_text().replace(
        "[environments.staging]\napproval = false\n",
        "[environments.staging]\napproval = false\nverify_s = 2\n"
        f"on_verify_failure = \"rollback\"\nchecks = [{{ prometheus = '{QUERY}', below = 0.5 }}]\n",
    )
    config.write_text(f'prometheus_url = "{prometheus.url}"\n{text}')
    return config


async def test_a_series_that_vanishes_after_a_deploy_fails_it_and_it_is_rolled_back(
    redis: Redis, key_prefix: str, tmp_path: Path, prometheus: Prometheus, exporter: Path
) -> None:
    app = make_app(redis, prefix=key_prefix, config_file=configure(tmp_path, prometheus))
    await until_scraped(prometheus)

    await say(app, "t", "slack:U0CAROL", "deploy backend v1.4.1 to staging", new=True)
    await app.worker.run_until_idle()
    thread = await thread_of(app, "t")
    assert texts(thread)[-1] == "Verified backend v1.4.1 in staging: 1 check green for 2 s."

    await say(app, "t", "slack:U0CAROL", f"deploy backend {BROKEN} to staging")
    await app.worker.run_until_idle()
    thread = await thread_of(app, "t")
    [_, verdict] = [e for e in thread.events if isinstance(e, VerificationFinished)]
    assert verdict.result == "failed", verdict.summary
    assert verdict.summary == (
        f"Verification of backend {BROKEN} in staging failed: no data for {QUERY}: the query "
        "returned no series (no such metric, or nothing reports it)"
    )
    assert [c.split()[:3:2] for c in calls(tmp_path)] == [
        ["deploy", "v1.4.1"],
        ["deploy", BROKEN],
        ["rollback", "v1.4.1"],
    ]
    assert (await asyncio.to_thread(exporter.read_text)).strip() == "v1.4.1"
    assert thread.status == "done"
    # Once rolled back the service reports again: the same check would see data.
    await until_scraped(prometheus, within_s=5)
