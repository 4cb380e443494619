"""One check's result from the facts the verifier reports: table tests of
bot.core.policy.check_results, with the exact reasons people read pinned."""

import pytest

from bot.core.config.service import CommandCheck, HttpCheck
from bot.core.policy.check_results import (
    Answered,
    Fetched,
    NoAnswer,
    Unreachable,
    check_crashed,
    command_result,
    http_result,
    no_prometheus_url,
    prometheus_too_big,
    prometheus_unanswered,
)
from bot.core.policy.verification import ProbeResult
from bot.core.thread.deploy_result import DeployResult

PLAIN = HttpCheck(http="http://svc/healthz")
VERSIONED = HttpCheck(http="http://svc/version", body_contains_version=True, timeout_s=2.5)
CREATED = HttpCheck(http="http://svc/healthz", expect_status=201)
LONG_BODY = "x " * 200


def healthy() -> ProbeResult:
    return ProbeResult(healthy=True)


def fails(reason: str) -> ProbeResult:
    return ProbeResult(healthy=False, reason=reason)


def no_data(reason: str) -> ProbeResult:
    return ProbeResult(healthy=False, reason=reason, no_data=True)


@pytest.mark.parametrize(
    ("check", "fetched", "expected"),
    [
        (PLAIN, Answered(status=200, body="ok"), healthy()),
        (PLAIN, Answered(status=200, body=""), healthy()),
        (CREATED, Answered(status=201, body=""), healthy()),
        (CREATED, Answered(status=200, body=""), fails("status 200, expected 201")),
        (
            PLAIN,
            Answered(status=503, body="  down\n for\tmaintenance "),
            fails("status 503, expected 200: down for maintenance"),
        ),
        (
            PLAIN,
            Answered(status=500, body=LONG_BODY),
            fails("status 500, expected 200: " + ("x " * 60).rstrip()),  # cut at 120 characters
        ),
        (VERSIONED, Answered(status=200, body='{"version": "v1.4.2"}'), healthy()),
        (
            VERSIONED,
            Answered(status=200, body='{"version": "v1.4.20"}'),
            fails("the body does not contain v1.4.2"),
        ),
        (
            VERSIONED,
            Answered(status=200, body="v1.4.1 ...", cut_at_bytes=64 * 1024),
            fails("the body does not contain v1.4.2 (first 64 KiB read)"),
        ),
        (VERSIONED, Answered(status=500, body="v1.4.2"), fails("status 500, expected 200: v1.4.2")),
        (VERSIONED, NoAnswer(timeout_s=2.5), no_data("no answer in 2.5 s")),
        (
            PLAIN,
            Unreachable(error="Connection refused"),
            no_data("unreachable: Connection refused"),
        ),
    ],
)
def test_http_result(check: HttpCheck, fetched: Fetched, expected: ProbeResult) -> None:
    assert http_result(check, version="v1.4.2", fetched=fetched) == expected


COMMAND = CommandCheck(command=["./smoke"], timeout_s=30)


def ran(result: str, exit_code: int | None, tail: str = "") -> DeployResult:
    return DeployResult(result=result, exit_code=exit_code, duration_s=1, output_tail=tail)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (ran("succeeded", 0), healthy()),
        (ran("succeeded", 0, "all good"), healthy()),
        (ran("failed", 1), fails("exit 1")),
        (ran("failed", 2, "smoke: 3 errors"), fails("exit 2: smoke: 3 errors")),
        (ran("failed", -9, "killed"), fails("exit -9: killed")),
        (ran("failed", None), fails("did not run")),
        (ran("failed", None, "no such file"), fails("did not run: no such file")),
        (ran("timed_out", None), no_data("timed out after 30 s")),
        (ran("timed_out", -15, "waiting for db"), no_data("waiting for db")),
    ],
)
def test_command_result(result: DeployResult, expected: ProbeResult) -> None:
    assert command_result(COMMAND, ran=result) == expected


@pytest.mark.parametrize(
    ("got", "expected"),
    [
        (no_prometheus_url(), fails("no prometheus_url in the config")),
        (
            prometheus_unanswered(NoAnswer(timeout_s=5)),
            no_data("Prometheus did not answer in 5 s"),
        ),
        (
            prometheus_unanswered(Unreachable(error="Cannot connect")),
            no_data("Prometheus unreachable: Cannot connect"),
        ),
        (
            prometheus_too_big(limit_bytes=1024 * 1024),
            fails("Prometheus's answer is over 1024 KiB"),
        ),
        (
            check_crashed(error_type="KeyError", error="'x'"),
            fails("KeyError: 'x'"),
        ),
    ],
)
def test_prometheus_fetch_and_crash_results(got: ProbeResult, expected: ProbeResult) -> None:
    assert got == expected
