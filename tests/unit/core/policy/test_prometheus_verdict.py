"""bot.core.policy.prometheus: a Prometheus check's result from the typed facts of its
query's answer (table-tested), each reason worded by bot.core.reports.check_results exactly
as bot/shell/verify/prometheus.py wrote it before. (From HTTP status and body through the
reader: tests/unit/shell/verify/test_prometheus_answer.py.)"""

import pytest

from bot.core.policy.prometheus import (
    ErrorAnswer,
    Malformed,
    NoResult,
    NotAnAnswer,
    NotOk,
    QueryAnswer,
    Sample,
    Series,
    WrongShape,
    prometheus_verdict,
)
from bot.core.policy.verification import ProbeResult

OK = ProbeResult(healthy=True)


def fails(reason: str) -> ProbeResult:
    return ProbeResult(healthy=False, reason=reason)


def nothing(reason: str) -> ProbeResult:
    return ProbeResult(healthy=False, reason=reason, no_data=True)


def series(*samples: tuple[dict[str, str], str]) -> Series:
    return Series(samples=tuple(Sample(metric=m, value=v) for m, v in samples))


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (series(({"code": "500"}, "0.2"), ({"code": "502"}, "0.49")), OK),
        (series(({}, "-3")), OK),
        (series(({}, "2")), fails("not below 0.5: 2")),
        (series(({}, "0.5")), fails("not below 0.5: 0.5")),  # at the threshold fails
        (series(({}, "+Inf")), fails("not below 0.5: +Inf")),
        (
            series(({"__name__": "errs", "pod": "a", "code": "5xx"}, "1")),
            fails('not below 0.5: errs{code="5xx",pod="a"} = 1'),
        ),
        (
            series(({"p": "a"}, "1"), ({"p": "b"}, "2"), ({"p": "c"}, "3"), ({"p": "d"}, "4")),
            fails('not below 0.5: {p="a"} = 1, {p="b"} = 2 and 2 more'),
        ),
        # over the threshold wins over no value
        (series(({"p": "a"}, "NaN"), ({"p": "b"}, "9")), fails('not below 0.5: {p="b"} = 9')),
        (series(), nothing("the query returned no series (no such metric, or nothing reports it)")),
        (series(({}, "NaN")), nothing("no value: NaN")),
        (series(({}, "-Inf")), nothing("no value: -Inf")),
        (series(({}, "lots")), nothing("no value: 'lots'")),
        (series(({"p": "a"}, "x")), nothing("no value: {p=\"a\"} = 'x' (not a number)")),
        (
            series(({"p": "a"}, "NaN"), ({"p": "b"}, "NaN"), ({"p": "c"}, "NaN")),
            nothing('no value: {p="a"} = NaN, {p="b"} = NaN and 1 more'),
        ),
        (NotAnAnswer(status=502), nothing("status 502, not a Prometheus query answer")),
        (
            ErrorAnswer(error_type="bad_data", error="parse error"),
            fails("Prometheus refuses the query (bad_data): parse error"),
        ),
        (
            ErrorAnswer(error_type="timeout", error="query timed out"),
            nothing("Prometheus error (timeout): query timed out"),
        ),
        (NotOk(status=500), nothing("status 500 from Prometheus")),
        (NoResult(), nothing("Prometheus answered success without data")),
        (
            WrongShape(result_type="matrix"),
            fails("the query gives a matrix; a check needs a vector or a scalar"),
        ),
        (
            WrongShape(result_type="string"),
            fails("the query gives a string; a check needs a vector or a scalar"),
        ),
        (Malformed(result_type="scalar"), nothing("a malformed scalar in Prometheus's answer")),
    ],
)
def test_prometheus_verdict(answer: QueryAnswer, expected: ProbeResult) -> None:
    assert prometheus_verdict(answer, below=0.5) == expected
