"""One verification check's result from what the verifier observed (pure): the verifier
(bot/shell/verify/checks.py) reports typed facts (an HTTP answer's status and body, no
answer in time, no connection, a command's result and exit code) and these functions decide
healthy, failing or no data, with the reason from ``bot.core.reports.check_results``.

- HTTP: healthy when the status equals ``expect_status`` and, with
  ``body_contains_version``, the body read contains the version as a whole version. No
  answer in time, or no connection, is no data; a wrong status or a missing version fails.
- Command: exit 0 is healthy; stopped at its timeout it observed nothing (no data: its
  output says how far it got); any other exit, or not starting at all, fails.
- Prometheus fetch: no URL configured or an answer too big to be one check's fails; no
  answer or no connection is no data (the answer itself is judged by
  bot.core.policy.prometheus).
"""

from typing import Annotated, Literal, assert_never

from pydantic import BaseModel, ConfigDict, Field

from bot.core.config.service import CommandCheck, HttpCheck
from bot.core.policy.verification import ProbeResult, body_has_version, no_data
from bot.core.reports.check_results import (
    crashed_reason,
    exit_reason,
    no_answer_reason,
    no_prometheus_url_reason,
    no_version_reason,
    prometheus_no_answer_reason,
    prometheus_too_big_reason,
    prometheus_unreachable_reason,
    status_reason,
    timed_out_reason,
    unreachable_reason,
)
from bot.core.thread.deploy_result import DeployResult

__all__ = [
    "Answered",
    "Fetched",
    "NoAnswer",
    "Unreachable",
    "check_crashed",
    "command_result",
    "http_result",
    "no_prometheus_url",
    "prometheus_too_big",
    "prometheus_unanswered",
]

_HEALTHY = ProbeResult(healthy=True)


class _Fact(BaseModel):
    model_config = ConfigDict(frozen=True)


class Answered(_Fact):
    """The server answered: its status and the body read (decoded); ``cut_at_bytes``: the
    read stopped at that many bytes, so the body may go on."""

    kind: Literal["answered"] = "answered"
    status: int
    body: str
    cut_at_bytes: int | None = None


class NoAnswer(_Fact):
    """Connected (or trying) but no whole answer within ``timeout_s``."""

    kind: Literal["no_answer"] = "no_answer"
    timeout_s: float


class Unreachable(_Fact):
    """No connection, or the connection broke: the client's error, as it says it."""

    kind: Literal["unreachable"] = "unreachable"
    error: str


Fetched = Annotated[Answered | NoAnswer | Unreachable, Field(discriminator="kind")]


def _fail(reason: str) -> ProbeResult:
    return ProbeResult(healthy=False, reason=reason)


def http_result(check: HttpCheck, *, version: str, fetched: Fetched) -> ProbeResult:
    """An HTTP check's result for the deployed ``version`` from what its GET got."""
    match fetched:
        case NoAnswer(timeout_s=timeout_s):
            return no_data(no_answer_reason(timeout_s=timeout_s))
        case Unreachable(error=error):
            return no_data(unreachable_reason(error=error))
        case Answered(status=status, body=body, cut_at_bytes=cut_at_bytes):
            if status != check.expect_status:
                return _fail(status_reason(status=status, expected=check.expect_status, body=body))
            if check.body_contains_version and not body_has_version(body, version):
                read_kib = None if cut_at_bytes is None else cut_at_bytes // 1024
                return _fail(no_version_reason(version=version, read_kib=read_kib))
            return _HEALTHY
        case _:
            assert_never(fetched)


def command_result(check: CommandCheck, *, ran: DeployResult) -> ProbeResult:
    """A command check's result from how its command ended (output already redacted)."""
    match ran.result:
        case "succeeded":
            return _HEALTHY
        case "timed_out":  # it observed nothing: no data (the tail says how far it got)
            return no_data(timed_out_reason(output_tail=ran.output_tail, timeout_s=check.timeout_s))
        case "failed":
            return _fail(exit_reason(exit_code=ran.exit_code, output_tail=ran.output_tail))
        case _:
            assert_never(ran.result)


def no_prometheus_url() -> ProbeResult:
    """A Prometheus check without a ``prometheus_url`` to ask is a broken check."""
    return _fail(no_prometheus_url_reason())


def prometheus_unanswered(fetched: NoAnswer | Unreachable) -> ProbeResult:
    """Prometheus did not answer: the check observed nothing."""
    match fetched:
        case NoAnswer(timeout_s=timeout_s):
            return no_data(prometheus_no_answer_reason(timeout_s=timeout_s))
        case Unreachable(error=error):
            return no_data(prometheus_unreachable_reason(error=error))
        case _:
            assert_never(fetched)


def prometheus_too_big(*, limit_bytes: int) -> ProbeResult:
    """Too many series for one check: the query is too broad (a wrong check, not no data)."""
    return _fail(prometheus_too_big_reason(limit_kib=limit_bytes // 1024))


def check_crashed(*, error_type: str, error: str) -> ProbeResult:
    """A check that raised unexpectedly fails (a check's trouble, never the run's crash)."""
    return _fail(crashed_reason(error_type=error_type, error=error))
