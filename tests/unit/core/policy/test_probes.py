"""bot/core/policy/verification.py: which checks apply, how rounds add up to a verdict, and the
words."""

from pathlib import Path
from typing import Any

import pytest

from bot.core.config.config import Config
from bot.core.config.service import Check, CommandCheck, HttpCheck, PrometheusCheck
from bot.core.policy.verification import (
    CheckFailure,
    NothingToVerify,
    ProbeResult,
    Tally,
    ToVerify,
    Verified,
    VerifyFailed,
    Verifying,
    body_has_version,
    check_label,
    fill_argv,
    judge,
    no_data,
    progress_text,
    settle,
    tally_round,
    verification_for,
)
from bot.core.thread.plan import Plan
from bot.core.wording.redact import MASK
from bot.core.wording.verification import start_text

PLAN = Plan(
    kind="deploy",
    service="backend",
    environment="production",
    version="v1.4.2",
    sha="0123456789abcdef0123456789abcdef01234567",
    previous_version="v1.4.1",
    requester="carol",
)
HTTP = HttpCheck(http="https://api.example.com/healthz")
CMD = CommandCheck(command=["./scripts/smoke.sh", "{environment}"])
PROM = PrometheusCheck(prometheus="sum(rate(errors_total[5m]))", below=1)
OK = ProbeResult(healthy=True)


def bad(reason: str = "status 503, expected 200") -> ProbeResult:
    return ProbeResult(healthy=False, reason=reason)


def config(*, env: dict[str, Any], service: dict[str, Any]) -> Config:
    return Config.model_validate(
        {
            "services": {
                "backend": {
                    "repo": "repos/backend",
                    "deploy": ["./deploy.sh"],
                    "environments": ["production"],
                    **service,
                }
            },
            "environments": {"production": env},
            "prometheus_url": "http://127.0.0.1:9090",
            "base_dir": Path("/srv"),
        }
    )


ENV_CHECK = {"http": "https://api.example.com/healthz"}
SVC_CHECK = {"command": ["./scripts/smoke.sh"]}


@pytest.mark.parametrize(
    ("env", "service", "expected"),
    [
        (
            {"verify_s": 600, "checks": [ENV_CHECK]},
            {"checks": [SVC_CHECK]},
            ToVerify(checks=(HTTP, CommandCheck(command=["./scripts/smoke.sh"])), verify_s=600),
        ),
        (
            {"verify_s": 600, "checks": [ENV_CHECK]},
            {"verify_s": 120},
            ToVerify(checks=(HTTP,), verify_s=120),
        ),
        (
            {"checks": [ENV_CHECK]},
            {"verify_s": 90, "checks": [SVC_CHECK]},
            ToVerify(checks=(HTTP, CommandCheck(command=["./scripts/smoke.sh"])), verify_s=90),
        ),
        (
            {"verify_s": 600},
            {},
            NothingToVerify(reason="no checks for backend in production"),
        ),
        (
            {"checks": [ENV_CHECK]},
            {"checks": [SVC_CHECK]},
            NothingToVerify(reason="no verify_s for backend in production"),
        ),
        ({}, {}, NothingToVerify(reason="no checks for backend in production")),
    ],
)
def test_which_checks_apply(
    env: dict[str, Any], service: dict[str, Any], expected: ToVerify | NothingToVerify
) -> None:
    got = verification_for(
        config(env=env, service=service), service="backend", environment="production"
    )
    assert got == expected


def test_command_argv_is_filled_per_argument_once() -> None:
    plan = PLAN.model_copy(update={"version": "{sha}", "previous_version": None})
    argv = fill_argv(
        [
            "smoke",
            "{service}@{version}",
            "{environment}",
            "{previous_version}",
            "{idempotency_key}",
        ],
        plan=plan,
        idempotency_key="k1",
    )
    assert argv == ["smoke", "backend@{sha}", "production", "", "k1"]


@pytest.mark.parametrize(
    ("body", "version", "found"),
    [
        ('{"version": "v1.4.2"}', "v1.4.2", True),
        ("running v1.4.2.", "v1.4.2", True),
        ("v1.4.2\n", "v1.4.2", True),
        ("version=v1.4.2-rc1", "v1.4.2", False),
        ("running v1.4.20", "v1.4.2", False),
        ("running v1.4.2.1", "v1.4.2", False),
        ("running xv1.4.2", "v1.4.2", False),
        ("running 1.4.2", "v1.4.2", False),
        ("running v1.4.1", "v1.4.2", False),
        ("anything", "", False),
    ],
)
def test_the_body_must_hold_the_whole_version(body: str, version: str, found: bool) -> None:
    assert body_has_version(body, version) is found


@pytest.mark.parametrize(
    ("check", "label"),
    [
        (HTTP, "http https://api.example.com/healthz"),
        (CMD, "command ./scripts/smoke.sh {environment}"),
        (PROM, "prometheus sum(rate(errors_total[5m]))"),
        (
            HttpCheck(http="https://api.example.com/health?token=s3cr3t-value"),
            f"http https://api.example.com/health?token={MASK}",
        ),
        (
            CommandCheck(command=["smoke", "--password", "hunter22"]),
            f"command smoke --password {MASK}",
        ),
        (PrometheusCheck(prometheus="x" * 100, below=1), "prometheus " + "x" * 48 + "…"),
    ],
)
def test_check_labels_are_short_and_redacted(check: Check, label: str) -> None:
    assert check_label(check) == label


def test_a_known_secret_in_a_label_is_masked() -> None:
    check = CommandCheck(command=["smoke", "opensesame42"])
    assert check_label(check, secrets=["opensesame42"]) == f"command smoke {MASK}"


def test_tally_counts_failures_in_a_row_and_a_green_round_resets() -> None:
    tally = Tally()
    tally = tally_round(tally, [bad(), OK])
    assert tally.failures_in_a_row == (1, 0)
    tally = tally_round(tally, [bad(), bad()])
    assert tally.failures_in_a_row == (2, 1)
    tally = tally_round(tally, [OK, bad()])
    assert (tally.rounds, tally.failures_in_a_row) == (3, (0, 2))
    with pytest.raises(ValueError, match="3 results for 2 checks"):
        tally_round(tally, [OK, OK, OK])


def rounds(*results: list[ProbeResult]) -> Tally:
    tally = Tally()
    for one in results:
        tally = tally_round(tally, one)
    return tally


CHECKS = (HTTP, CMD, PROM)


@pytest.mark.parametrize(
    ("tally", "elapsed_s", "expected"),
    [
        # one blip is not a failure; time left: still verifying
        (rounds([OK, bad(), OK]), 30, Verifying(green=2, total=3, left_s=570)),
        # a blip that recovered before the end
        (rounds([OK, bad(), OK], [OK, OK, OK]), 45, Verifying(green=3, total=3, left_s=555)),
        # the end reached with one check failing once: not yet verified, not yet failed
        (rounds([OK, OK, OK], [OK, bad(), OK]), 600, Verifying(green=2, total=3, left_s=0)),
    ],
)
def test_judge_keeps_verifying(tally: Tally, elapsed_s: float, expected: Verifying) -> None:
    assert judge(PLAN, CHECKS, tally, elapsed_s=elapsed_s, verify_s=600) == expected


def test_judge_verifies_when_the_time_is_up_and_all_are_green() -> None:
    tally = rounds([OK, bad(), OK], [OK, OK, OK], [OK, OK, OK])
    verdict = judge(PLAN, CHECKS, tally, elapsed_s=600.2, verify_s=600)
    assert verdict == Verified(
        checks=3,
        verify_s=600,
        rounds=3,
        text="Verified backend v1.4.2 in production: 3 checks green for 10 min.",
    )


def test_judge_fails_after_failures_to_fail_rounds_in_a_row_naming_each_check() -> None:
    tally = rounds([OK, bad(), OK], [bad("no answer in 5 s"), bad("exit 1: smoke failed"), OK])
    assert isinstance(judge(PLAN, CHECKS, tally, elapsed_s=30, verify_s=600), VerifyFailed)
    assert isinstance(
        judge(PLAN, CHECKS, tally, elapsed_s=30, verify_s=600, failures_to_fail=3), Verifying
    )
    tally = tally_round(tally, [bad("no answer in 5 s"), bad("exit 1: smoke failed"), OK])
    verdict = judge(PLAN, CHECKS, tally, elapsed_s=45, verify_s=600, failures_to_fail=3)
    assert isinstance(verdict, VerifyFailed)
    assert verdict.text == (
        "Verification of backend v1.4.2 in production failed: "
        "command ./scripts/smoke.sh {environment}: exit 1: smoke failed"
    )
    assert [(f.check, f.failures_in_a_row) for f in verdict.failures] == [
        ("command ./scripts/smoke.sh {environment}", 3)
    ]
    one = judge(
        PLAN, CHECKS[:1], rounds([bad("down")]), elapsed_s=1, verify_s=600, failures_to_fail=1
    )
    assert isinstance(one, VerifyFailed)


def test_failure_reasons_are_redacted_one_line_and_capped() -> None:
    reason = (
        "exit 1: connecting\nAuthorization: Bearer abc.def.ghi\nDB_PASSWORD=hunter22 " + "x" * 300
    )
    checks: list[Check] = [CMD, HTTP, PROM, HttpCheck(http="https://b.example.com/")]
    tally = rounds(*[[bad(reason), bad("tok opensesame42"), bad(), bad()]] * 2)
    verdict = judge(PLAN, checks, tally, elapsed_s=30, verify_s=600, secrets=["opensesame42"])
    assert isinstance(verdict, VerifyFailed)
    assert "\n" not in verdict.text
    for secret in ("abc.def.ghi", "hunter22", "opensesame42"):
        assert secret not in verdict.text
    assert all(len(f.reason) <= 160 for f in verdict.failures)
    assert verdict.failures[0].reason.startswith(
        f"exit 1: connecting | Authorization: Bearer {MASK}"
    )
    assert verdict.failures[1].reason == f"tok {MASK}"
    assert verdict.text.endswith("; and 1 more")
    assert len(verdict.failures) == 4
    long = rounds([bad("exit 2: a\nb\nc\nd\n\x1b[31mlast\x1b[0m")])
    verdict = judge(PLAN, CHECKS[:1], long, elapsed_s=1, verify_s=2, failures_to_fail=1)
    assert isinstance(verdict, VerifyFailed)
    assert verdict.failures[0].reason == "exit 2: a | … | d | last"


@pytest.mark.parametrize(
    ("green", "total", "left_s", "text"),
    [
        (2, 3, 240, "Verifying backend v1.4.2 in production: 2 of 3 checks green, 4 min left"),
        (2, 3, 239.5, "Verifying backend v1.4.2 in production: 2 of 3 checks green, 4 min left"),
        (3, 3, 121, "Verifying backend v1.4.2 in production: 3 of 3 checks green, 3 min left"),
        (3, 3, 119.5, "Verifying backend v1.4.2 in production: 3 of 3 checks green, 120 s left"),
        (3, 3, 61, "Verifying backend v1.4.2 in production: 3 of 3 checks green, 61 s left"),
        (0, 1, 59.2, "Verifying backend v1.4.2 in production: 0 of 1 check green, 60 s left"),
        (1, 1, 0, "Verifying backend v1.4.2 in production: 1 of 1 check green, 0 s left"),
    ],
)
def test_progress_wording(green: int, total: int, left_s: float, text: str) -> None:
    assert progress_text(PLAN, Verifying(green=green, total=total, left_s=left_s)) == text


@pytest.mark.parametrize(
    ("verify_s", "checks", "text"),
    [
        (600, 3, "3 checks green for 10 min."),
        (150, 1, "1 check green for 2 min 30 s."),
        (120, 1, "1 check green for 2 min."),
        (90, 1, "1 check green for 90 s."),
        (12, 1, "1 check green for 12 s."),
        (45, 2, "2 checks green for 45 s."),
        (1.5, 2, "2 checks green for 1.5 s."),
    ],
)
def test_verified_wording(verify_s: float, checks: int, text: str) -> None:
    tally = rounds([OK] * checks)
    verdict = judge(PLAN, CHECKS[:checks], tally, elapsed_s=verify_s, verify_s=verify_s)
    assert isinstance(verdict, Verified)
    assert verdict.text == f"Verified backend v1.4.2 in production: {text}"


def test_judge_refuses_a_tally_of_other_checks() -> None:
    with pytest.raises(ValueError, match="a tally of 1 checks for 3 checks"):
        judge(PLAN, CHECKS, rounds([OK]), elapsed_s=1, verify_s=2)
    with pytest.raises(ValueError, match="failures_to_fail"):
        judge(PLAN, CHECKS, rounds([OK, OK, OK]), elapsed_s=1, verify_s=2, failures_to_fail=0)


@pytest.mark.parametrize(
    ("checks", "verify_s", "text"),
    [
        (1, 12, "1 check for 12 s ..."),
        (2, 12, "2 checks for 12 s ..."),
        (2, 90, "2 checks for 90 s ..."),
        (3, 600, "3 checks for 10 min ..."),
    ],
)
def test_the_first_message_says_seconds_under_two_minutes(
    checks: int, verify_s: float, text: str
) -> None:
    assert start_text(PLAN, checks=checks, verify_s=verify_s) == (
        f"Verifying backend v1.4.2 in production: {text}"
    )


PROM_IGNORING = PrometheusCheck(prometheus="up{job='backend'}", below=1, on_no_data="ignore")
SEEN_NOTHING = no_data("the query returned no series")


def test_no_data_fails_by_default_and_ignore_counts_it_as_not_failing() -> None:
    assert settle(PROM, SEEN_NOTHING) == SEEN_NOTHING
    assert not settle(PROM, SEEN_NOTHING).healthy
    ignored = settle(PROM_IGNORING, SEEN_NOTHING)
    assert (ignored.healthy, ignored.no_data) == (True, True)
    # ignore is about missing data only: an observed failure still fails
    assert settle(PROM_IGNORING, bad("not below 1: 3")) == bad("not below 1: 3")
    assert settle(PROM_IGNORING, OK) == OK


def test_a_check_that_saw_nothing_fails_the_verification_saying_no_data_for_what() -> None:
    checks = (HTTP, PROM)
    tally = rounds(*[[OK, settle(PROM, SEEN_NOTHING)]] * 2)
    verdict = judge(PLAN, checks, tally, elapsed_s=30, verify_s=600)
    assert isinstance(verdict, VerifyFailed)
    assert verdict.text == (
        "Verification of backend v1.4.2 in production failed: "
        "no data for sum(rate(errors_total[5m])): the query returned no series"
    )
    assert verdict.failures == (
        CheckFailure(
            check="prometheus sum(rate(errors_total[5m]))",
            reason="the query returned no series",
            failures_in_a_row=2,
            no_data=True,
        ),
    )
    # with time up and nothing else failing it is still never "verified"
    late = judge(PLAN, checks, tally, elapsed_s=600, verify_s=600)
    assert isinstance(late, VerifyFailed)


def test_an_http_check_that_never_answers_is_no_data() -> None:
    silent = settle(HTTP, no_data("no answer in 5 s"))
    verdict = judge(PLAN, (HTTP,), rounds([silent], [silent]), elapsed_s=10, verify_s=600)
    assert isinstance(verdict, VerifyFailed)
    assert verdict.text.endswith(
        "failed: no data for https://api.example.com/healthz: no answer in 5 s"
    )


def test_progress_counts_only_what_was_observed_as_green() -> None:
    checks = (HTTP, PROM_IGNORING)
    tally = rounds([OK, settle(PROM_IGNORING, SEEN_NOTHING)])
    verdict = judge(PLAN, checks, tally, elapsed_s=30, verify_s=600)
    assert verdict == Verifying(green=1, total=2, left_s=570, no_data=1)
    assert progress_text(PLAN, verdict) == (
        "Verifying backend v1.4.2 in production: 1 of 2 checks green, 1 without data, 10 min left"
    )


def test_an_ignored_check_without_data_is_said_in_the_verdict_not_counted_green() -> None:
    checks = (HTTP, PROM_IGNORING)
    nothing = settle(PROM_IGNORING, SEEN_NOTHING)
    always = judge(PLAN, checks, rounds([OK, nothing], [OK, nothing]), elapsed_s=12, verify_s=12)
    assert always == Verified(
        checks=1,
        verify_s=12,
        rounds=2,
        text="Verified backend v1.4.2 in production: 1 check green for 12 s; no data (ignored "
        "as configured) for up{job='backend'}.",
    )
    once = judge(PLAN, checks, rounds([OK, nothing], [OK, OK]), elapsed_s=12, verify_s=12)
    assert isinstance(once, Verified)
    assert once.checks == 2
    assert once.text.endswith("2 checks green for 12 s; no data (ignored as configured) for "
                              "up{job='backend'} (1 of 2 rounds).")  # fmt: skip
