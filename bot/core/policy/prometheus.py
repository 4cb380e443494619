"""A Prometheus check's result from what its query answered (pure). bot/shell/verify/
prometheus.py reads the HTTP status and JSON body into one of the typed facts below; this
decides healthy, failing or no data, with the reason from ``bot.core.reports.check_results``.

Healthy when the result is a vector or a scalar and every value is below the threshold.

No data is not health. A release that takes a service down makes its series go stale and
vanish: the query then answers an empty vector, exactly as for a metric that never existed.
So these observe nothing (``no_data``: failing unless the check's ``on_no_data`` is
``"ignore"``): an empty vector, a NaN or -Inf value (0/0, no traffic: not a measurement),
an error answer or HTTP error from Prometheus, an answer that is not a query answer.
A check that is itself wrong fails whatever ``on_no_data`` says: a query Prometheus refuses
(``bad_data``), a matrix or string result. A value at or over the threshold (+Inf too)
fails, and is reported even when other series of the answer have no data.
"""

import math
from typing import Annotated, Literal, assert_never

from pydantic import BaseModel, ConfigDict, Field

from bot.core.policy.verification import ProbeResult, no_data
from bot.core.reports import check_results as words

__all__ = [
    "ErrorAnswer",
    "Malformed",
    "NoResult",
    "NotAnAnswer",
    "NotOk",
    "QueryAnswer",
    "Sample",
    "Series",
    "WrongShape",
    "prometheus_verdict",
]


class _Fact(BaseModel):
    model_config = ConfigDict(frozen=True)


class NotAnAnswer(_Fact):
    """The body is not a Prometheus query answer (a proxy's error page, other JSON)."""

    kind: Literal["not_an_answer"] = "not_an_answer"
    status: int


class ErrorAnswer(_Fact):
    """Prometheus answered ``"status": "error"`` with its ``errorType`` and ``error``."""

    kind: Literal["error"] = "error"
    error_type: str
    error: str


class NotOk(_Fact):
    """A success answer under an HTTP status other than 200."""

    kind: Literal["not_ok"] = "not_ok"
    status: int


class NoResult(_Fact):
    """A success answer without ``data``."""

    kind: Literal["no_result"] = "no_result"


class WrongShape(_Fact):
    """The query gives a matrix or a string: not something a check can compare."""

    kind: Literal["wrong_shape"] = "wrong_shape"
    result_type: Literal["matrix", "string"]


class Malformed(_Fact):
    """A vector or scalar whose samples are not what the API documents."""

    kind: Literal["malformed"] = "malformed"
    result_type: Literal["vector", "scalar"]


class Sample(_Fact):
    """One series' labels (``__name__`` among them, if any) and its value as answered."""

    metric: dict[str, str] = {}
    value: str


class Series(_Fact):
    """A vector's samples, or a scalar as one sample without labels."""

    kind: Literal["series"] = "series"
    samples: tuple[Sample, ...]


QueryAnswer = Annotated[
    NotAnAnswer | ErrorAnswer | NotOk | NoResult | WrongShape | Malformed | Series,
    Field(discriminator="kind"),
]


def _fail(reason: str) -> ProbeResult:
    return ProbeResult(healthy=False, reason=reason)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _judge(samples: tuple[Sample, ...], below: float) -> ProbeResult:
    over: list[str] = []
    unseen: list[str] = []
    for sample in samples:
        number = _number(sample.value)
        if number is None:
            unseen.append(words.prometheus_not_a_number(metric=sample.metric, value=sample.value))
        elif math.isnan(number) or number == -math.inf:
            unseen.append(words.prometheus_sample(metric=sample.metric, value=sample.value))
        elif not number < below:
            over.append(words.prometheus_sample(metric=sample.metric, value=sample.value))
    if over:
        return _fail(words.prometheus_not_below_reason(below=below, samples=over))
    if unseen:
        return no_data(words.prometheus_no_value_reason(samples=unseen))
    return ProbeResult(healthy=True)


def prometheus_verdict(answer: QueryAnswer, *, below: float) -> ProbeResult:
    """The check's result from what its query answered."""
    match answer:
        case NotAnAnswer(status=status):
            return no_data(words.prometheus_not_an_answer_reason(status=status))
        case ErrorAnswer(error_type="bad_data", error=error):  # the query itself is wrong
            return _fail(words.prometheus_refused_reason(error=error))
        case ErrorAnswer(error_type=error_type, error=error):
            return no_data(words.prometheus_error_reason(error_type=error_type, error=error))
        case NotOk(status=status):
            return no_data(words.prometheus_status_reason(status=status))
        case NoResult():
            return no_data(words.prometheus_no_result_reason())
        case WrongShape(result_type=result_type):
            return _fail(words.prometheus_wrong_shape_reason(result_type=result_type))
        case Malformed(result_type=result_type):
            return no_data(words.prometheus_malformed_reason(result_type=result_type))
        case Series(samples=()):
            return no_data(words.prometheus_no_series_reason())
        case Series(samples=samples):
            return _judge(samples, below)
        case _:
            assert_never(answer)
