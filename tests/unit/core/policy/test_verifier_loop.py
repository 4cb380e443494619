"""Verifier's rounds on an injected clock and sleep, with scripted check results: when
rounds run, when the run ends, what the thread is told (no real waiting, no real checks)."""

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.core.config.config import Config
from bot.core.config.service import Check, HttpCheck
from bot.core.policy.verification import ProbeResult, Verified, VerifyFailed
from bot.core.thread.plan import Plan
from bot.shell.verify.checks import Verifier
from bot.shell.verify.timings import Stopwatch, VerifyTimings

PLAN = Plan(
    kind="deploy",
    service="backend",
    environment="production",
    version="v1.4.2",
    sha="0123456789abcdef0123456789abcdef01234567",
    previous_version="v1.4.1",
    requester="carol",
)
A = HttpCheck(http="http://a.example/healthz")
B = HttpCheck(http="http://b.example/healthz")
CONFIG = Config.model_validate(
    {
        "services": {
            "backend": {"repo": "r", "deploy": ["./d.sh"], "environments": ["production"]}
        },
        "environments": {"production": {}},
        "base_dir": Path("/srv"),
    }
)
OK = ProbeResult(healthy=True)


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Script:
    """Answers per (check, time of the round); records when each check ran."""

    def __init__(self, time: FakeTime, answer: Callable[[Check, float], ProbeResult]) -> None:
        self.time = time
        self.answer = answer
        self.ran: list[tuple[str, float]] = []

    async def __call__(self, check: Check, plan: Plan, key: str) -> ProbeResult:
        assert plan == PLAN
        name = "A" if check == A else "B"
        self.ran.append((name, self.time.now))
        return self.answer(check, self.time.now)


def verifier(
    time: FakeTime, script: Script, *, interval_s: float = 15, failures_to_fail: int = 2
) -> Verifier:
    return Verifier(
        config=CONFIG,
        timings=VerifyTimings(interval_s=interval_s, failures_to_fail=failures_to_fail),
        stopwatch=Stopwatch(now_s=time.clock, sleep=time.sleep),
        probe=script,
    )


async def test_all_green_runs_every_interval_and_a_last_round_at_the_end() -> None:
    time = FakeTime()
    script = Script(time, lambda check, t: OK)
    said: list[str] = []

    async def progress(text: str) -> None:
        said.append(text)

    result = await verifier(time, script).verify(
        PLAN, checks=[A, B], verify_s=40, on_progress=progress
    )
    assert result == Verified(
        checks=2,
        verify_s=40,
        rounds=4,
        text="Verified backend v1.4.2 in production: 2 checks green for 40 s.",
    )
    assert time.slept == [15, 15, 10]
    assert sorted({t for _, t in script.ran}) == [0, 15, 30, 40]
    assert len(script.ran) == 8
    assert said == [
        "Verifying backend v1.4.2 in production: 2 of 2 checks green, 40 s left",
        "Verifying backend v1.4.2 in production: 2 of 2 checks green, 25 s left",
        "Verifying backend v1.4.2 in production: 2 of 2 checks green, 10 s left",
    ]


async def test_two_failures_in_a_row_end_the_run_at_once() -> None:
    time = FakeTime()
    script = Script(
        time,
        lambda check, t: (
            ProbeResult(healthy=False, reason="status 503, expected 200")
            if check == B and t >= 30
            else OK
        ),
    )
    result = await verifier(time, script).verify(PLAN, checks=[A, B], verify_s=600)
    assert isinstance(result, VerifyFailed)
    assert result.text == (
        "Verification of backend v1.4.2 in production failed: "
        "http http://b.example/healthz: status 503, expected 200"
    )
    assert (result.rounds, result.after_s) == (4, 45)
    assert max(t for _, t in script.ran) == 45  # nothing ran after the verdict


async def test_one_blip_does_not_fail_and_failures_to_fail_is_a_parameter() -> None:
    def blip(check: Check, t: float) -> ProbeResult:
        return ProbeResult(healthy=False, reason="timeout") if check == A and t == 15 else OK

    time = FakeTime()
    result = await verifier(time, Script(time, blip)).verify(PLAN, checks=[A, B], verify_s=60)
    assert isinstance(result, Verified)
    time = FakeTime()
    strict = verifier(time, Script(time, blip), failures_to_fail=1)
    failed = await strict.verify(PLAN, checks=[A, B], verify_s=60)
    assert isinstance(failed, VerifyFailed)
    assert failed.after_s == 15


async def test_a_check_failing_at_the_end_gets_its_next_round_before_a_verdict() -> None:
    time = FakeTime()
    script = Script(
        time, lambda check, t: ProbeResult(healthy=False, reason="x") if t == 30 else OK
    )
    result = await verifier(time, script).verify(PLAN, checks=[A], verify_s=30)
    assert isinstance(result, Verified)
    assert sorted({t for _, t in script.ran}) == [0, 15, 30, 45]
    time = FakeTime()
    script = Script(
        time, lambda check, t: ProbeResult(healthy=False, reason="x") if t >= 30 else OK
    )
    failed = await verifier(time, script).verify(PLAN, checks=[A], verify_s=30)
    assert isinstance(failed, VerifyFailed)
    assert failed.after_s == 45


async def test_progress_is_said_once_per_round_only_when_it_changed_and_its_errors_pass() -> None:
    time = FakeTime()
    calls: list[str] = []

    async def flaky_progress(text: str) -> None:
        calls.append(text)
        raise RuntimeError("slack is down")

    result = await verifier(time, Script(time, lambda check, t: OK), interval_s=20).verify(
        PLAN, checks=[A], verify_s=180, on_progress=flaky_progress
    )
    assert isinstance(result, Verified)
    assert result.rounds == 10
    # 3 min, 3 min (skipped), 3 min (skipped), 2 min, then seconds under two minutes
    assert calls == [
        f"Verifying backend v1.4.2 in production: 1 of 1 check green, {left} left"
        for left in ("3 min", "2 min", "100 s", "80 s", "60 s", "40 s", "20 s")
    ]


async def test_a_check_that_raises_is_that_checks_failure() -> None:
    time = FakeTime()

    def boom(check: Check, t: float) -> ProbeResult:
        raise RuntimeError("probe exploded")

    result = await verifier(time, Script(time, boom)).verify(PLAN, checks=[A], verify_s=60)
    assert isinstance(result, VerifyFailed)
    assert result.failures[0].reason == "RuntimeError: probe exploded"


async def test_slow_rounds_are_not_followed_by_a_full_interval() -> None:
    time = FakeTime()

    def slow(check: Check, t: float) -> ProbeResult:
        time.now += 6  # the round itself took 6 s
        return OK

    result = await verifier(time, Script(time, slow)).verify(PLAN, checks=[A], verify_s=30)
    assert isinstance(result, Verified)
    assert time.slept == [9, 9]  # rounds start at 0, 15 and 30; the last ends at 36


@pytest.mark.parametrize(
    ("checks", "verify_s", "message"),
    [([], 60, "no checks"), ([A], 0, "verify_s must be > 0")],
)
async def test_nothing_to_verify_is_a_clear_error(
    checks: list[Check], verify_s: float, message: str
) -> None:
    time = FakeTime()
    with pytest.raises(ValueError, match=message):
        await verifier(time, Script(time, lambda c, t: OK)).verify(
            PLAN, checks=checks, verify_s=verify_s
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"interval_s": 0}, "interval_s"), ({"failures_to_fail": 0}, "failures_to_fail")],
)
def test_bad_parameters_are_refused(kwargs: dict[str, int], message: str) -> None:
    time = FakeTime()
    with pytest.raises(ValueError, match=message):
        verifier(time, Script(time, lambda c, t: OK), **kwargs)
