"""A Prometheus query's answer read into typed facts (pure edge translator; never raises).

``GET <prometheus_url>/api/v1/query?query=<PromQL>`` answers JSON (Prometheus docs, "HTTP
API", "Instant queries" and "Expression query result formats"):

    {"status": "success", "data": {"resultType": "vector",
     "result": [{"metric": {"code": "500"}, "value": [1730000000.0, "0.2"]}]}}
    {"status": "success", "data": {"resultType": "scalar", "result": [1730000000.0, "0.2"]}}
    {"status": "error", "errorType": "bad_data", "error": "parse error ..."}

``read_answer`` says which of ``bot.core.policy.prometheus``'s facts the HTTP status and body
are; that module decides the check's result (healthy, failing or no data) and
``bot.core.reports.check_results`` words why.
"""

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

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

__all__ = ["prometheus_result", "read_answer"]


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


def read_answer(status: int, body: bytes) -> QueryAnswer:
    """Which fact the HTTP ``status`` and ``body`` of a query answer are."""
    try:
        answer = _Answer.model_validate(json.loads(body))
    except (ValueError, ValidationError):
        return NotAnAnswer(status=status)
    if answer.status == "error":
        return ErrorAnswer(error_type=answer.errorType or "unknown", error=answer.error or "")
    if status != 200:
        return NotOk(status=status)
    if answer.data is None:
        return NoResult()
    match answer.data.resultType:
        case "vector" | "scalar" as shape:
            try:
                if shape == "vector":
                    samples = _VECTOR.validate_python(answer.data.result)
                    found = [Sample(metric=s.metric, value=s.value[1]) for s in samples]
                else:
                    found = [Sample(value=_SCALAR.validate_python(answer.data.result)[1])]
            except ValidationError:
                return Malformed(result_type=shape)
            return Series(samples=tuple(found))
        case "matrix" | "string" as other:
            return WrongShape(result_type=other)


def prometheus_result(status: int, body: bytes, *, below: float) -> ProbeResult:
    """The check's result from the HTTP ``status`` and ``body`` of a query answer."""
    return prometheus_verdict(read_answer(status, body), below=below)
