"""bot/core/prometheus.py: a Prometheus check's verdict from a query answer (pure, table-tested)."""

import json

import pytest

from bot.core.probes import ProbeResult
from bot.core.prometheus import prometheus_result

OK = ProbeResult(healthy=True)


def vector(*values: tuple[dict[str, str], str]) -> bytes:
    result = [{"metric": metric, "value": [1730000000.5, value]} for metric, value in values]
    return json.dumps(
        {"status": "success", "data": {"resultType": "vector", "result": result}}
    ).encode()


def scalar(value: str) -> bytes:
    data = {"resultType": "scalar", "result": [1730000000.5, value]}
    return json.dumps({"status": "success", "data": data}).encode()


def error(kind: str, text: str) -> bytes:
    return json.dumps({"status": "error", "errorType": kind, "error": text}).encode()


def unhealthy(reason: str) -> ProbeResult:
    return ProbeResult(healthy=False, reason=reason)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, vector(), OK),  # no series: nothing matched, the good case
        (200, vector(({"code": "500"}, "0.2"), ({"code": "502"}, "0.9")), OK),
        (200, scalar("0.99"), OK),
        (200, vector(({}, "-3")), OK),
        (200, scalar("1"), unhealthy("not below 1: scalar = 1")),
        (
            200,
            vector(({"__name__": "errs", "code": "500", "pod": "a"}, "2.5")),
            unhealthy('not below 1: errs{code="500",pod="a"} = 2.5'),
        ),
        (
            200,
            vector(({"p": "a"}, "3"), ({"p": "b"}, "0"), ({"p": "c"}, "4"), ({"p": "d"}, "5")),
            unhealthy('not below 1: {p="a"} = 3, {p="c"} = 4 and 1 more'),
        ),
        (200, vector(({}, "NaN")), unhealthy("not below 1: {} = NaN")),
        (200, vector(({}, "+Inf")), unhealthy("not below 1: {} = +Inf")),
        (200, vector(({}, "lots")), unhealthy("{} = 'lots' is not a number")),
        (
            400,
            error("bad_data", 'parse error at char 5: unexpected "}"'),
            unhealthy('prometheus error (bad_data): parse error at char 5: unexpected "}"'),
        ),
        (
            503,
            error("unavailable", "too busy"),
            unhealthy("prometheus error (unavailable): too busy"),
        ),
        (502, b"<html>Bad Gateway</html>", unhealthy("status 502, not a Prometheus query answer")),
        (200, b'{"status": "success"}', unhealthy("Prometheus answered success without data")),
        (200, b"[1, 2]", unhealthy("status 200, not a Prometheus query answer")),
        (
            200,
            json.dumps(
                {"status": "success", "data": {"resultType": "matrix", "result": []}}
            ).encode(),
            unhealthy("the query gives a matrix; a check needs a vector or a scalar"),
        ),
        (
            200,
            json.dumps(
                {"status": "success", "data": {"resultType": "vector", "result": [{"v": 1}]}}
            ).encode(),
            unhealthy("a malformed vector in Prometheus's answer"),
        ),
        (500, vector(), unhealthy("status 500 from Prometheus")),
    ],
)
def test_prometheus_answers(status: int, body: bytes, expected: ProbeResult) -> None:
    assert prometheus_result(status, body, below=1) == expected
