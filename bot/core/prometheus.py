"""A Prometheus check's verdict from an answer of the instant query API (pure).

``GET <prometheus_url>/api/v1/query?query=<PromQL>`` answers JSON (Prometheus docs, "HTTP
API", "Instant queries" and "Expression query result formats"):

    {"status": "success", "data": {"resultType": "vector",
     "result": [{"metric": {"code": "500"}, "value": [1730000000.0, "0.2"]}]}}
    {"status": "success", "data": {"resultType": "scalar", "result": [1730000000.0, "0.2"]}}
    {"status": "error", "errorType": "bad_data", "error": "parse error ..."}

Healthy when the result is a vector or a scalar and every value is below the threshold. An
empty vector is healthy: PromQL returns no series when nothing matches (no 5xx at all, or
``rate(...) > 1`` filtered everything out), and that is the good case for "must stay under".
Unhealthy, with a reason: an error answer, an HTTP error, JSON that is not such an answer, a
matrix or string result, a value that is not a number, NaN or infinite.
"""

import json
import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from bot.core.probes import ProbeResult

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
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(metric.items()) if k != "__name__")
    return metric.get("__name__", "") + (f"{{{inner}}}" if inner else "") or "{}"


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _judge_values(values: list[tuple[str, str]], below: float) -> ProbeResult:
    over: list[str] = []
    for labels, text in values:
        number = _number(text)
        if number is None:
            return _fail(f"{labels} = {text!r} is not a number")
        if math.isnan(number) or not number < below:
            over.append(f"{labels} = {text}")
    if not over:
        return ProbeResult(healthy=True)
    shown = ", ".join(over[:_SERIES_SHOWN]) + (
        f" and {len(over) - _SERIES_SHOWN} more" if len(over) > _SERIES_SHOWN else ""
    )
    return _fail(f"not below {below:g}: {shown}")


def prometheus_result(status: int, body: bytes, *, below: float) -> ProbeResult:
    """The check's result from the HTTP ``status`` and ``body`` of a query answer."""
    try:
        answer = _Answer.model_validate(json.loads(body))
    except (ValueError, ValidationError):
        return _fail(f"status {status}, not a Prometheus query answer")
    if answer.status == "error":
        return _fail(f"prometheus error ({answer.errorType or 'unknown'}): {answer.error or ''}")
    if status != 200:
        return _fail(f"status {status} from Prometheus")
    if answer.data is None:
        return _fail("Prometheus answered success without data")
    try:
        match answer.data.resultType:
            case "vector":
                samples = _VECTOR.validate_python(answer.data.result)
                values = [(_labels(s.metric), s.value[1]) for s in samples]
            case "scalar":
                values = [("scalar", _SCALAR.validate_python(answer.data.result)[1])]
            case "matrix" | "string" as other:
                return _fail(f"the query gives a {other}; a check needs a vector or a scalar")
    except ValidationError:
        return _fail(f"a malformed {answer.data.resultType} in Prometheus's answer")
    return _judge_values(values, below)
