"""Verification after a deploy, the pure part: which checks apply, how rounds of check
results combine into a verdict (bot/core/wording/verification.py has the words).

A verification runs every check once per round (bot/shell/verify/checks.py does the I/O) for
``verify_s`` seconds. A check fails the verification only after failing ``failures_to_fail``
rounds in a row (default 2): one blip (a dropped connection, a slow scrape) does not roll a
release back, a real outage still does within two rounds. The verification succeeds when
``verify_s`` has passed and the last round had no failing check; a check that failed once
near the end gets its next rounds (at most ``failures_to_fail - 1`` more) to recover or fail.

No data is not health: a check that observed nothing (no series, NaN, no answer in time, a
command stopped at its timeout) fails like an unhealthy one, unless its ``on_no_data`` is
``"ignore"``; then it is neither green nor failing, and the verdict says it saw no data.
"""

import re
from collections.abc import Iterable, Sequence
from typing import Literal, assert_never

from pydantic import BaseModel, ConfigDict

from bot.core.config.config import Config
from bot.core.config.service import Check
from bot.core.policy.supersession import Superseded
from bot.core.thread.plan import Plan
from bot.core.thread.text.outside import Line, Output
from bot.core.wording.verification import (
    check_label,
    check_subject,
    failed_text,
    one_line_reason,
    progress_line,
    verified_text,
)

__all__ = [
    "DEFAULT_FAILURES_TO_FAIL",
    "CheckFailure",
    "NothingToVerify",
    "ProbeResult",
    "Tally",
    "ToVerify",
    "Verified",
    "VerifyFailed",
    "Verifying",
    "body_has_version",
    "check_label",
    "fill_argv",
    "judge",
    "no_data",
    "progress_text",
    "settle",
    "tally_round",
    "verification_for",
    "verification_result",
]

DEFAULT_FAILURES_TO_FAIL = 2
_PLACEHOLDER = re.compile(r"\{(service|version|environment|sha|previous_version|idempotency_key)\}")


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True)


class ToVerify(_Value):
    checks: tuple[Check, ...]
    verify_s: float


class NothingToVerify(_Value):
    reason: str


class ProbeResult(_Value):
    """One check's answer in one round; ``reason`` says why it is not healthy. ``no_data``:
    the check observed nothing (``reason`` says what was missing)."""

    healthy: bool
    reason: Output = ""
    no_data: bool = False


class Tally(_Value):
    """What the rounds so far add up to, per check (in the order of the checks)."""

    rounds: int = 0
    failures_in_a_row: tuple[int, ...] = ()
    last: tuple[ProbeResult, ...] = ()
    rounds_without_data: tuple[int, ...] = ()


class CheckFailure(_Value):
    check: str  # its label, redacted
    reason: Line  # one line, redacted, capped
    failures_in_a_row: int
    no_data: bool = False


class Verifying(_Value):
    green: int
    total: int
    left_s: float
    no_data: int = 0


class Verified(_Value):
    checks: int
    verify_s: float
    rounds: int
    text: str


class VerifyFailed(_Value):
    failures: tuple[CheckFailure, ...]
    after_s: float
    rounds: int
    text: str


def no_data(reason: str) -> ProbeResult:
    """A check that observed nothing: failing until ``settle`` applies its ``on_no_data``."""
    return ProbeResult(healthy=False, reason=reason, no_data=True)


def settle(check: Check, result: ProbeResult) -> ProbeResult:
    """The result as the check's config counts it: no data fails (``on_no_data = "fail"``,
    the default) or counts as not failing (``"ignore"``); it never counts as observed."""
    if not result.no_data:
        return result
    return result.model_copy(update={"healthy": check.on_no_data == "ignore"})


def verification_for(
    config: Config, *, service: str, environment: str
) -> ToVerify | NothingToVerify:
    """The environment's checks, then the service's; the service's verify_s when it sets
    one, else the environment's. No checks or no verify_s: nothing to verify."""
    svc, env = config.services[service], config.environments[environment]
    checks = (*env.checks, *svc.checks)
    verify_s = svc.verify_s if svc.verify_s is not None else env.verify_s
    if not checks:
        return NothingToVerify(reason=f"no checks for {service} in {environment}")
    if verify_s is None:
        return NothingToVerify(reason=f"no verify_s for {service} in {environment}")
    return ToVerify(checks=checks, verify_s=verify_s)


def fill_argv(template: Sequence[str], *, plan: Plan, idempotency_key: str = "") -> list[str]:
    """A command check's argv: placeholders filled per argument, in one pass (a value that
    looks like ``{sha}`` is not expanded again), as deploy commands are."""
    values = {
        "service": plan.service,
        "version": plan.version,
        "environment": plan.environment,
        "sha": plan.sha,
        "previous_version": plan.previous_version or "",
        "idempotency_key": idempotency_key,
    }
    return [_PLACEHOLDER.sub(lambda m: values[m[1]], arg) for arg in template]


def body_has_version(body: str, version: str) -> bool:
    """True when ``version`` appears in ``body`` as a whole version: ``v1.4`` is not in
    ``"v1.4.2"`` (a newer or older version that merely starts the same does not count)."""
    if not version:
        return False
    edge = r"[\w+-]|\.\w"
    return re.search(rf"(?<![\w.+-]){re.escape(version)}(?!{edge})", body) is not None


def tally_round(tally: Tally, results: Sequence[ProbeResult]) -> Tally:
    """The tally after one more round (``results`` in the order of the checks, settled)."""
    previous = tally.failures_in_a_row or (0,) * len(results)
    if len(previous) != len(results):
        raise ValueError(f"{len(results)} results for {len(previous)} checks")
    unseen = tally.rounds_without_data or (0,) * len(results)
    return Tally(
        rounds=tally.rounds + 1,
        failures_in_a_row=tuple(
            0 if result.healthy else count + 1
            for count, result in zip(previous, results, strict=True)
        ),
        last=tuple(results),
        rounds_without_data=tuple(
            count + 1 if result.no_data else count
            for count, result in zip(unseen, results, strict=True)
        ),
    )


def progress_text(plan: Plan, progress: Verifying) -> str:
    """ "Verifying backend v1.4.2 in production: 2 of 3 checks green, 4 min left"."""
    return progress_line(
        plan,
        green=progress.green,
        total=progress.total,
        no_data=progress.no_data,
        left_s=progress.left_s,
    )


def judge(
    plan: Plan,
    checks: Sequence[Check],
    tally: Tally,
    *,
    elapsed_s: float,
    verify_s: float,
    failures_to_fail: int = DEFAULT_FAILURES_TO_FAIL,
    secrets: Iterable[str] = (),
) -> Verifying | Verified | VerifyFailed:
    """The verdict after ``tally.rounds`` rounds, ``elapsed_s`` after the first began.

    Failed as soon as a check failed ``failures_to_fail`` rounds in a row (every such check
    is named, with its last reason, redacted: ``no data for <subject>: <reason>`` when it
    observed nothing); verified once ``verify_s`` has passed and the last round was all
    green (or without data where the check ignores that); otherwise still verifying. Only
    checks that observed something count as green."""
    if failures_to_fail < 1:
        raise ValueError("failures_to_fail must be >= 1")
    if len(tally.last) != len(checks):
        raise ValueError(f"a tally of {len(tally.last)} checks for {len(checks)} checks")
    secrets = tuple(secrets)
    failing = [
        (check, result, count)
        for check, result, count in zip(checks, tally.last, tally.failures_in_a_row, strict=True)
        if count >= failures_to_fail
    ]
    if failing:
        failures = [
            CheckFailure(
                check=check_label(check, secrets=secrets),
                reason=one_line_reason(result.reason, secrets=secrets),
                failures_in_a_row=count,
                no_data=result.no_data,
            )
            for check, result, count in failing
        ]
        shown = [
            f"no data for {check_subject(check, secrets=secrets)}: {failure.reason}"
            if failure.no_data
            else f"{failure.check}: {failure.reason}"
            for (check, _, _), failure in zip(failing, failures, strict=True)
        ]
        return VerifyFailed(
            failures=tuple(failures),
            after_s=elapsed_s,
            rounds=tally.rounds,
            text=failed_text(plan, shown),
        )
    healthy = sum(1 for result in tally.last if result.healthy)
    green = sum(1 for result in tally.last if result.healthy and not result.no_data)
    if elapsed_s >= verify_s and healthy == len(checks):
        unseen = tally.rounds_without_data or (0,) * len(checks)
        ignored = [
            check_subject(check, secrets=secrets)
            + ("" if count == tally.rounds else f" ({count} of {tally.rounds} rounds)")
            for check, count in zip(checks, unseen, strict=True)
            if count and check.on_no_data == "ignore"  # a blip of the others was tolerated
        ]
        text = verified_text(plan, green=green, verify_s=verify_s, ignored=ignored)
        return Verified(checks=green, verify_s=verify_s, rounds=tally.rounds, text=text)
    return Verifying(
        green=green,
        total=len(checks),
        left_s=max(verify_s - elapsed_s, 0),
        no_data=sum(1 for result in tally.last if result.no_data),
    )


def verification_result(
    verdict: Verified | VerifyFailed | Superseded,
) -> Literal["verified", "failed", "superseded"]:
    """What the thread records a verification came to (a superseded one decided nothing)."""
    match verdict:
        case Verified():
            return "verified"
        case VerifyFailed():
            return "failed"
        case Superseded():
            return "superseded"
        case _:
            assert_never(verdict)
