"""A Prometheus check's verdict from an answer of the instant query API (pure).

``GET <prometheus_url>/api/v1/query?query=<PromQL>`` answers JSON (Prometheus docs, "HTTP
API", "Instant queries" and "Expression query result formats"):

    {"status": "success", "data": {"resultType": "vector",
     "result": [{"metric": {"code": "500"}, "value": [1730000000.0, "0.2"]}]}}
    {"status": "success", "data": {"resultType": "scalar", "result": [1730000000.0, "0.2"]}}
    {"status": "error", "errorType": "bad_data", "error": "parse error ..."}

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

import json
import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from bot.core.policy.verification import ProbeResult, no_data

__all__ = ["prometheus_result"]

_SERIES_SHOWN = 2


class _Data(BaseModel):
    resultType: Literal["vector", "scalar", "matrix", "string"]  # the API's names
    result: object


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Literal["success", "error"]
    data: _Data | None = None
    errorType: str | None = None
    error: str | None = None


class _Sample(BaseModel):
    metric: dict[str, str] = {}
    value: tuple[float, str]


_VECTOR = TypeAdapter(list[_Sample])
_SCALAR = TypeAdapter(tuple[float, str])


def _fail(reason: str) -> ProbeResult:
    return ProbeResult(healthy=False, reason=reason)


def _labels(metric: dict[str, str]) -> str:
    """``errs{code="500"}``, ``{code="500"}``; "" for a series without labels (a sum)."""
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(metric.items()) if k != "__name__")
    return metric.get("__name__", "") + (f"{{{inner}}}" if inner else "")


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _shown(items: list[str]) -> str:
    extra = len(items) - _SERIES_SHOWN
    return ", ".join(items[:_SERIES_SHOWN]) + (f" and {extra} more" if extra > 0 else "")


def _judge_values(values: list[tuple[str, str]], below: float) -> ProbeResult:
    over: list[str] = []
    unseen: list[str] = []
    for labels, text in values:
        number = _number(text)
        named = f"{labels} = {text}" if labels else text
        if number is None:
            unseen.append(f"{labels} = {text!r} (not a number)" if labels else repr(text))
        elif math.isnan(number) or number == -math.inf:
            unseen.append(named)
        elif not number < below:
            over.append(named)
    if over:
        return _fail(f"not below {below:g}: {_shown(over)}")
    if unseen:
        return no_data(f"no value: {_shown(unseen)}")
    return ProbeResult(healthy=True)


def prometheus_result(status: int, body: bytes, *, below: float) -> ProbeResult:
    """The check's result from the HTTP ``status`` and ``body`` of a query answer."""
    try:
        answer = _Answer.model_validate(json.loads(body))
    except (ValueError, ValidationError):
        return no_data(f"status {status}, not a Prometheus query answer")
    if answer.status == "error":
        kind, text = answer.errorType or "unknown", answer.error or ""
        if kind == "bad_data":  # the query itself is wrong: no outage excuses that
            return _fail(f"Prometheus refuses the query (bad_data): {text}")
        return no_data(f"Prometheus error ({kind}): {text}")
    if status != 200:
        return no_data(f"status {status} from Prometheus")
    if answer.data is None:
        return no_data("Prometheus answered success without data")
    try:
        match answer.data.resultType:
            case "vector":
                samples = _VECTOR.validate_python(answer.data.result)
                values = [(_labels(s.metric), s.value[1]) for s in samples]
            case "scalar":
                values = [("", _SCALAR.validate_python(answer.data.result)[1])]
            case "matrix" | "string" as other:
                return _fail(f"the query gives a {other}; a check needs a vector or a scalar")
    except ValidationError:
        return no_data(f"a malformed {answer.data.resultType} in Prometheus's answer")
    if not values:
        return no_data("the query returned no series (no such metric, or nothing reports it)")
    return _judge_values(values, below)
