"""The Prometheus fake answers in the HTTP API's shapes, changes its answer when the test
says so, and records every query."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientConnectionError, ClientSession

from tests.fakes.prometheus_api import FakePrometheus

QUERY = 'sum(rate(http_requests_total{status=~"5.."}[1m]))'


@pytest.fixture
async def prom() -> AsyncIterator[FakePrometheus]:
    async with FakePrometheus() as server:
        yield server


async def test_a_value_the_test_flips_comes_back_as_an_instant_vector(
    prom: FakePrometheus,
) -> None:
    prom.set(QUERY, 0.25)
    async with ClientSession() as http:
        async with http.get(f"{prom.base_url}/api/v1/query", params={"query": QUERY}) as r:
            first = await r.json()
            assert r.status == 200
        prom.set(QUERY, 7)
        async with http.post(f"{prom.base_url}/api/v1/query", data={"query": QUERY}) as r:
            second = await r.json()
    assert first["status"] == "success"
    assert first["data"]["resultType"] == "vector"
    (sample,) = first["data"]["result"]
    assert sample["metric"] == {}
    assert isinstance(sample["value"][0], float)
    assert sample["value"][1] == "0.25"
    assert second["data"]["result"][0]["value"][1] == "7"
    assert prom.queries == [QUERY, QUERY]


async def test_unknown_series_empty_query_and_injected_failure(prom: FakePrometheus) -> None:
    prom.fail("up", 503)
    async with ClientSession() as http:
        url = f"{prom.base_url}/api/v1/query"
        async with http.get(url, params={"query": "nothing_here"}) as r:
            empty = await r.json()
        async with http.get(url, params={"query": " "}) as r:
            bad_status, bad = r.status, await r.json()
        async with http.get(url, params={"query": "up"}) as r:
            down_status, down = r.status, await r.json()
        async with http.get(url, params={"query": "up"}) as r:
            again_status = r.status
    assert empty == {"status": "success", "data": {"resultType": "vector", "result": []}}
    assert (bad_status, bad["status"], bad["errorType"]) == (400, "error", "bad_data")
    assert (down_status, down["errorType"]) == (503, "unavailable")
    assert again_status == 200  # a failure is injected once
    assert prom.queries == ["nothing_here", " ", "up", "up"]


async def test_the_rude_answers_nan_series_garbage_slowness_and_going_away(
    prom: FakePrometheus,
) -> None:
    prom.set("ratio", float("nan"))
    prom.series("per_pod", [({"pod": "a"}, float("inf")), ({"pod": "b"}, float("-inf"))])
    prom.garbage("proxied", 502, "<html>Bad Gateway</html>")
    prom.delay("slow", 0.3)
    url = f"{prom.base_url}/api/v1/query"
    async with ClientSession() as http:
        async with http.get(url, params={"query": "ratio"}) as r:
            nan = await r.json()
        async with http.get(url, params={"query": "per_pod"}) as r:
            per_pod = await r.json()
        async with http.get(url, params={"query": "proxied"}) as r:
            proxied = (r.status, r.content_type, await r.text())
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with http.get(url, params={"query": "slow"}) as r:
            slow = await r.json()
        waited_s = loop.time() - started
        await prom.stop()
        with pytest.raises(ClientConnectionError):
            async with http.get(url, params={"query": "ratio"}):
                pass
    assert nan["data"]["result"][0]["value"][1] == "NaN"
    assert [s["value"][1] for s in per_pod["data"]["result"]] == ["+Inf", "-Inf"]
    assert [s["metric"] for s in per_pod["data"]["result"]] == [{"pod": "a"}, {"pod": "b"}]
    assert proxied == (502, "text/html", "<html>Bad Gateway</html>")
    assert slow["data"]["result"] == []
    assert waited_s >= 0.3
