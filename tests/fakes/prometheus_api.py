"""A local fake of the Prometheus HTTP query API (``/api/v1/query``), for Prometheus checks.

``FakePrometheus`` (aiohttp, a free 127.0.0.1 port, in the test's own event loop) answers
GET and form-POST ``/api/v1/query?query=...`` in the API's instant-vector shape:
``{"status": "success", "data": {"resultType": "vector", "result": [{"metric": {...},
"value": [<unix time>, "<value as a string>"]}]}}``. ``set(query, value)`` sets the answer
for one exact expression (None: an empty vector, as for a series that does not exist);
``fail(query, status)`` answers an error once. Every query is recorded in ``queries``.
"""

import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from aiohttp import web

__all__ = ["FakePrometheus"]


@dataclass
class FakePrometheus:
    values: dict[str, float | None] = field(default_factory=dict)
    queries: list[str] = field(default_factory=list)
    base_url: str = ""
    _failures: dict[str, list[int]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None

    def set(self, query: str, value: float | None) -> None:
        self.values[query] = value

    def fail(self, query: str, status: int = 503, *, times: int = 1) -> None:
        self._failures.setdefault(query, []).extend([status] * times)

    async def _query(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        if request.method == "POST":
            params.update({k: str(v) for k, v in (await request.post()).items()})
        query = params.get("query", "")
        self.queries.append(query)
        if not query.strip():
            return _error(400, "bad_data", 'invalid parameter "query": empty expression')
        if failures := self._failures.get(query):
            return _error(failures.pop(0), "unavailable", "injected failure")
        value = self.values.get(query)
        result = []
        if value is not None:
            result = [{"metric": {}, "value": [round(time.time(), 3), _number(value)]}]
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

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def _number(value: float) -> str:
    """Prometheus writes sample values as strings: "0.25", "NaN", "+Inf"."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)).removesuffix(".0") if float(value).is_integer() else repr(value)


def _error(status: int, kind: str, message: str) -> web.Response:
    body = {"status": "error", "errorType": kind, "error": message}
    return web.json_response(body, status=status)
