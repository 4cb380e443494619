"""bot/shell/verify/prometheus.py: a Prometheus check's verdict from a query answer (pure,
table-tested)."""

import json

import pytest

from bot.core.policy.verification import ProbeResult
from bot.shell.verify.prometheus import prometheus_result

OK = ProbeResult(healthy=True)
NO_SERIES = "the query returned no series (no such metric, or nothing reports it)"


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


def nothing(reason: str) -> ProbeResult:
    return ProbeResult(healthy=False, reason=reason, no_data=True)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, vector(({"code": "500"}, "0.2"), ({"code": "502"}, "0.9")), OK),
        (200, scalar("0.99"), OK),
        (200, vector(({}, "-3")), OK),
        (200, scalar("1"), unhealthy("not below 1: 1")),
        (200, vector(({}, "3.5")), unhealthy("not below 1: 3.5")),  # a sum: no labels, no {}
        (
            200,
            vector(({"__name__": "errs", "code": "500", "pod": "a"}, "2.5")),
            unhealthy('not below 1: errs{code="500",pod="a"} = 2.5'),
        ),
        (200, vector(({"__name__": "up"}, "1")), unhealthy("not below 1: up = 1")),
        (
            200,
            vector(({"p": "a"}, "3"), ({"p": "b"}, "0"), ({"p": "c"}, "4"), ({"p": "d"}, "5")),
            unhealthy('not below 1: {p="a"} = 3, {p="c"} = 4 and 1 more'),
        ),
        (200, vector(({}, "+Inf")), unhealthy("not below 1: +Inf")),
        # No data is not health: a service that went down takes its series with it.
        (200, vector(), nothing(NO_SERIES)),
        (200, vector(({}, "NaN")), nothing("no value: NaN")),  # 0/0: no traffic
        (200, vector(({}, "-Inf")), nothing("no value: -Inf")),
        (200, scalar("NaN"), nothing("no value: NaN")),  # scalar() of an empty vector
        (
            200,
            vector(({"pod": "a"}, "NaN"), ({"pod": "b"}, "0.1")),
            nothing('no value: {pod="a"} = NaN'),
        ),
        # ... but a value over the threshold is reported whatever else is missing.
        (
            200,
            vector(({"pod": "a"}, "NaN"), ({"pod": "b"}, "7")),
            unhealthy('not below 1: {pod="b"} = 7'),
        ),
        (200, vector(({}, "lots")), nothing("no value: 'lots'")),
        (
            503,
            error("unavailable", "too busy"),
            nothing("Prometheus error (unavailable): too busy"),
        ),
        (
            422,
            error("execution", "query timed out in expression evaluation"),
            nothing("Prometheus error (execution): query timed out in expression evaluation"),
        ),
        (502, b"<html>Bad Gateway</html>", nothing("status 502, not a Prometheus query answer")),
        (200, b'{"status": "success"}', nothing("Prometheus answered success without data")),
        (200, b"[1, 2]", nothing("status 200, not a Prometheus query answer")),
        (500, vector(), nothing("status 500 from Prometheus")),
        (
            200,
            json.dumps(
                {"status": "success", "data": {"resultType": "vector", "result": [{"v": 1}]}}
            ).encode(),
            nothing("a malformed vector in Prometheus's answer"),
        ),
        # A check that is itself wrong fails whatever on_no_data says.
        (
            400,
            error("bad_data", 'parse error at char 5: unexpected "}"'),
            unhealthy(
                'Prometheus refuses the query (bad_data): parse error at char 5: unexpected "}"'
            ),
        ),
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
                {"status": "success", "data": {"resultType": "string", "result": [1.0, "x"]}}
            ).encode(),
            unhealthy("the query gives a string; a check needs a vector or a scalar"),
        ),
    ],
)
def test_prometheus_answers(status: int, body: bytes, expected: ProbeResult) -> None:
    assert prometheus_result(status, body, below=1) == expected
