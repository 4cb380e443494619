"""Bodies are capped before they are read, on every route of the web app (``BodyCap``):
50 MB sent over a real socket to the real app on uvicorn is refused with a 413 quickly,
without the process growing by the body, and nothing of it reaches the log.

The client is a raw socket, so the test controls exactly what is sent and when.
"""

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from redis.asyncio import Redis
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.app.webapp import build_web_app
from channels.api import api_routes
from channels.slack import slack_routes
from tests.fakes.slack_api import SlackPoster, sign
from tests.integration.channels.slack.test_slack import SECRET, Harness, open_harness, serving
from tests.support import calls

FIFTY_MB = 50 * 1024 * 1024
CHUNK = (b"FORGEDBODY-" * 6000)[:65536]
MARK = "FORGEDBODY"


API_TOKEN = "api-token-for-the-cap-test"


@pytest.fixture
async def web(redis: Redis, key_prefix: str, tmp_path: Path) -> AsyncIterator[Harness]:
    """The Slack harness, its web app also serving the HTTP API (``/v1``)."""
    async with open_harness(redis, key_prefix, tmp_path) as harness:
        app = harness.app
        routes = api_routes(
            config=app.context.config,
            ports=app.ports,
            api_token=API_TOKEN,
            webhook_secret="webhook-secret-for-the-cap-test",
            clock=harness.clock,
            new_id=lambda: "t-cap",
        )
        whole = build_web_app(app, routes=[*routes, *slack_routes(harness.listeners)])
        async with serving(whole) as url, SlackPoster(f"{url}/slack/events", SECRET) as post:
            yield replace(harness, post=post)


def port_of(harness: Harness) -> int:
    return int(harness.post.url.split(":")[2].split("/")[0])


def rss_kib() -> int:
    status = Path("/proc/self/status").read_text()
    found = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert found is not None
    return int(found.group(1))


async def send_big(
    port: int, path: str, *, chunked: bool, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], int, float]:
    """Posts 50 MB (declared, or chunked without a length) and stops as soon as the server
    answers or closes; returns (status, JSON answer, bytes sent, seconds to the answer)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {FIFTY_MB}")
    began = time.monotonic()
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    answer = asyncio.create_task(reader.read(65536))
    frame = b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK) if chunked else CHUNK
    sent = 0
    while sent < FIFTY_MB and not answer.done():
        try:
            writer.write(frame)
            await asyncio.wait_for(writer.drain(), 1)
        except (ConnectionError, TimeoutError):
            break
        sent += len(CHUNK)
        await asyncio.sleep(0)
    raw = await asyncio.wait_for(answer, 10)
    took_s = time.monotonic() - began
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    return status, json.loads(body), sent, took_s


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_fifty_megabytes_unsigned_to_slack_events_is_refused_at_once(
    web: Harness, chunked: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    before_kib = rss_kib()
    status, said, sent, took_s = await send_big(port_of(web), "/slack/events", chunked=chunked)
    grew_kib = rss_kib() - before_kib
    print(f"\n50 MB {'chunked' if chunked else 'declared'}: {status} in {took_s * 1000:.0f} ms, "
          f"{sent / 1024:.0f} KiB sent before the answer, RSS +{grew_kib} KiB")  # fmt: skip
    assert status == 413
    assert said == {"error": f"the body is larger than {1024 * 1024} bytes"}
    assert took_s < 2
    assert sent <= 8 * 1024 * 1024  # refused long before the 50 MB were sent
    assert grew_kib < 8 * 1024  # the body was never held
    assert await web.inbound() == 0
    assert calls(web.base) == []
    assert not [r for r in caplog.records if MARK in r.getMessage()]


KIB_64 = 64 * 1024


@pytest.mark.parametrize(
    ("path", "cap"),
    [
        ("/v1/threads", KIB_64),
        ("/v1/threads/t1/events", KIB_64),
        ("/v1/webhooks/ci", KIB_64),
        ("/healthz", KIB_64),
        ("/metrics", KIB_64),
        ("/no/such/route", KIB_64),
    ],
)
async def test_every_route_refuses_a_declared_length_over_its_cap(
    web: Harness, path: str, cap: int
) -> None:
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    status, said, _sent, took_s = await send_big(port_of(web), path, chunked=False, headers=auth)
    assert (status, said) == (413, {"error": f"the body is larger than {cap} bytes"})
    assert took_s < 2


@pytest.mark.parametrize("path", ["/v1/threads", "/v1/webhooks/ci"])
async def test_a_chunked_body_to_the_api_is_refused_once_past_the_cap(
    web: Harness, path: str
) -> None:
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    status, said, sent, took_s = await send_big(port_of(web), path, chunked=True, headers=auth)
    assert (status, said) == (413, {"error": f"the body is larger than {KIB_64} bytes"})
    assert sent <= 8 * 1024 * 1024
    assert took_s < 2
    assert await web.inbound() == 0


async def test_a_signed_body_just_over_the_cap_is_refused_and_one_under_is_read(
    web: Harness,
) -> None:
    """The cap holds for signed requests too; a signed body under it reaches the checks."""
    padding = " " * (1024 * 1024)
    over = b'{"type": "url_verification", "challenge": "c"}' + padding.encode()
    assert (await web.post.raw(over, {"Content-Type": "application/json"} | sign(SECRET, over)))[
        0
    ] == 413
    under = b'{"type": "url_verification", "challenge": "c"}' + b" " * (1024 * 1000)
    status, said = await web.post.raw(
        under, {"Content-Type": "application/json"} | sign(SECRET, under)
    )
    assert (status, json.loads(said)) == (200, {"challenge": "c"})


async def test_no_body_signature_or_secret_reaches_the_log(
    web: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Every logger at DEBUG: an unsigned request, a wrongly signed one, a malformed signed
    one and a valid one; no line holds the body, the signature or the secret."""
    caplog.set_level(logging.DEBUG)
    for name in ("slack_bolt", "slack_sdk", "deploybot.slack.bolt"):
        caplog.set_level(logging.DEBUG, logger=name)  # even if someone turns them up
    body = json.dumps({"type": "url_verification", "challenge": f"{MARK}-challenge"}).encode()
    wrong = sign("not-the-secret", body)
    good = sign(SECRET, body)
    odd = json.dumps({"type": "event_callback", "event": MARK}).encode()
    json_type = {"Content-Type": "application/json"}
    assert (await web.post.raw(body, json_type))[0] == 401
    assert (await web.post.raw(body, json_type | wrong))[0] == 401
    assert (await web.post.raw(odd, json_type | sign(SECRET, odd)))[0] == 400
    assert (await web.post.raw(body, json_type | good))[0] == 200
    # Bolt's own check, reached directly: its log line names the body and the signature.
    await web.listeners.bolt.async_dispatch(
        AsyncBoltRequest(body=body.decode(), headers={**json_type, **wrong})
    )
    logged = "\n".join(r.getMessage() + (caplog.text if r.exc_info else "") for r in caplog.records)
    assert caplog.records  # the refusals were logged, without their contents
    assert "Invalid request signature detected (request details withheld)" in logged
    assert MARK not in logged
    for headers in (wrong, good):
        assert headers["X-Slack-Signature"][3:] not in logged
    assert SECRET not in logged
