"""A local fake of the Prometheus HTTP query API (``/api/v1/query``), for Prometheus checks,
as rude as the real one (tests/integration/shell/verify/test_prometheus_real.py runs the real one).

``FakePrometheus`` (aiohttp, a free 127.0.0.1 port, in the test's own event loop) answers
GET and form-POST ``/api/v1/query?query=...`` in the API's instant-vector shape:
``{"status": "success", "data": {"resultType": "vector", "result": [{"metric": {...},
"value": [<unix time>, "<value as a string>"]}]}}``.

- ``set(query, value)``: one series without labels (what ``sum(...)`` gives); None: an empty
  vector, which is also the answer to any query nobody set (a metric that does not exist,
  or a service that went down: its series went stale). NaN and +/-Inf are written as the
  real one writes them ("NaN", "+Inf", "-Inf").
- ``series(query, [(labels, value), ...])``: several labelled series.
- ``fail(query, status, times=1)``: an error answer (``unavailable``), ``times`` times.
- ``garbage(query, status, body, times=1)``: a body that is no query answer (a proxy's page).
- ``delay(query, seconds)``: answer that late (a check's timeout runs out first).
- ``stop()``: the server goes away (connections are refused from then on).

Every query is recorded in ``queries``.
"""

import asyncio
import math
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from aiohttp import web

__all__ = ["FakePrometheus", "Series"]

Series = list[tuple[dict[str, str], float]]


@dataclass
class FakePrometheus:
    answers: dict[str, Series] = field(default_factory=dict)
    queries: list[str] = field(default_factory=list)
    base_url: str = ""
    _failures: dict[str, list[tuple[int, bytes | None]]] = field(default_factory=dict)
    _delays_s: dict[str, float] = field(default_factory=dict)
    _runner: web.AppRunner | None = None

    def set(self, query: str, value: float | None) -> None:
        self.answers[query] = [] if value is None else [({}, value)]

    def series(self, query: str, series: Series) -> None:
        self.answers[query] = list(series)

    def fail(self, query: str, status: int = 503, *, times: int = 1) -> None:
        self._failures.setdefault(query, []).extend([(status, None)] * times)

    def garbage(self, query: str, status: int, body: str, *, times: int = 1) -> None:
        self._failures.setdefault(query, []).extend([(status, body.encode())] * times)

    def delay(self, query: str, seconds: float) -> None:
        self._delays_s[query] = seconds

    async def _query(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        if request.method == "POST":
            params.update({k: str(v) for k, v in (await request.post()).items()})
        query = params.get("query", "")
        self.queries.append(query)
        if delay_s := self._delays_s.get(query):
            await asyncio.sleep(delay_s)
        if not query.strip():
            return _error(400, "bad_data", 'invalid parameter "query": empty expression')
        if failures := self._failures.get(query):
            status, body = failures.pop(0)
            if body is not None:
                return web.Response(status=status, body=body, content_type="text/html")
            return _error(status, "unavailable", "injected failure")
        now = round(time.time(), 3)
        result = [
            {"metric": labels, "value": [now, _number(value)]}
            for labels, value in self.answers.get(query, [])
        ]
        return web.json_response(
            {"status": "success", "data": {"resultType": "vector", "result": result}}
        )

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_get("/api/v1/query", self._query)
        app.router.add_post("/api/v1/query", self._query)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


def _number(value: float) -> str:
    """Prometheus writes sample values as strings: "0.25", "NaN", "+Inf"."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)).removesuffix(".0") if float(value).is_integer() else repr(value)


def _error(status: int, kind: str, message: str) -> web.Response:
    body = {"status": "error", "errorType": kind, "error": message}
    return web.json_response(body, status=status)
