"""Verification after a deploy, the pure part: which checks apply, how rounds of check
results combine into a verdict, and the words the thread shows.

A verification runs every check once per round (bot/shell/verifier.py does the I/O) for
``verify_s`` seconds. A check fails the verification only after failing ``failures_to_fail``
rounds in a row (default 2): one blip (a dropped connection, a slow scrape) does not roll a
release back, a real outage still does within two rounds. The verification succeeds when
``verify_s`` has passed and the last round had no failing check; a check that failed once
near the end gets its next rounds (at most ``failures_to_fail - 1`` more) to recover or fail.
"""

import math
import re
from collections.abc import Iterable, Sequence
from typing import assert_never

from pydantic import BaseModel, ConfigDict

from bot.core.config import Config
from bot.core.outside import Line, Output
from bot.core.plan import Plan
from bot.core.redact import redact, strip_ansi
from bot.core.service import Check, CommandCheck, HttpCheck, PrometheusCheck

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
    "progress_text",
    "tally_round",
    "verification_for",
]

DEFAULT_FAILURES_TO_FAIL = 2
_LABEL_CHARS = 60
_REASON_CHARS = 160
_REASON_LINES = 3
_FAILURES_SHOWN = 3
_PLACEHOLDER = re.compile(r"\{(service|version|environment|sha|previous_version|idempotency_key)\}")


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True)


class ToVerify(_Value):
    checks: tuple[Check, ...]
    verify_s: float


class NothingToVerify(_Value):
    reason: str


class ProbeResult(_Value):
    """One check's answer in one round; ``reason`` says why it is not healthy."""

    healthy: bool
    reason: Output = ""


class Tally(_Value):
    """What the rounds so far add up to, per check (in the order of the checks)."""

    rounds: int = 0
    failures_in_a_row: tuple[int, ...] = ()
    last: tuple[ProbeResult, ...] = ()


class CheckFailure(_Value):
    check: str  # its label, redacted
    reason: Line  # one line, redacted, capped
    failures_in_a_row: int


class Verifying(_Value):
    green: int
    total: int
    left_s: float


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


def _cut(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def check_label(check: Check, *, secrets: Iterable[str] = ()) -> str:
    """A short name for a check in the thread: ``http <url>``, ``command <argv>``,
    ``prometheus <expression>``; redacted (a URL may carry a token), one line, capped."""
    match check:
        case HttpCheck():
            raw = f"http {check.http}"
        case CommandCheck():
            raw = "command " + " ".join(check.command)
        case PrometheusCheck():
            raw = f"prometheus {check.prometheus}"
        case _:
            assert_never(check)
    one_line = " ".join(redact(raw, secrets=secrets).split())
    return _cut(one_line, _LABEL_CHARS)


def _one_line(reason: str, *, secrets: Iterable[str]) -> str:
    """Redacted as a whole, then cut: its first line (what failed: "exit 1: ...") and its
    last two (where the output ended), joined on one line."""
    lines = [
        " ".join(line.split())
        for line in strip_ansi(redact(reason, secrets=secrets)).split("\n")
        if line.strip()
    ]
    if len(lines) > _REASON_LINES:
        lines = [lines[0], "…", *lines[-(_REASON_LINES - 1) :]]
    return _cut(" | ".join(lines) or "unhealthy", _REASON_CHARS)


def tally_round(tally: Tally, results: Sequence[ProbeResult]) -> Tally:
    """The tally after one more round (``results`` in the order of the checks)."""
    previous = tally.failures_in_a_row or (0,) * len(results)
    if len(previous) != len(results):
        raise ValueError(f"{len(results)} results for {len(previous)} checks")
    return Tally(
        rounds=tally.rounds + 1,
        failures_in_a_row=tuple(
            0 if result.healthy else count + 1
            for count, result in zip(previous, results, strict=True)
        ),
        last=tuple(results),
    )


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:g} s" if seconds < 10 else f"{round(seconds)} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min" if rest == 0 else f"{minutes} min {rest} s"


def _left(seconds: float) -> str:
    if seconds >= 60:
        return f"{math.ceil(seconds / 60)} min"
    return f"{max(math.ceil(seconds), 0)} s"


def _checks(count: int) -> str:
    return f"{count} check" + ("" if count == 1 else "s")


def _what(plan: Plan) -> str:
    return f"{plan.service} {plan.version} in {plan.environment}"


def progress_text(plan: Plan, progress: Verifying) -> str:
    """ "Verifying backend v1.4.2 in production: 2 of 3 checks green, 4 min left"."""
    green = f"{progress.green} of {_checks(progress.total)} green"
    return f"Verifying {_what(plan)}: {green}, {_left(progress.left_s)} left"


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
    is named, with its last reason, redacted); verified once ``verify_s`` has passed and the
    last round was all green; otherwise still verifying."""
    if failures_to_fail < 1:
        raise ValueError("failures_to_fail must be >= 1")
    if len(tally.last) != len(checks):
        raise ValueError(f"a tally of {len(tally.last)} checks for {len(checks)} checks")
    secrets = tuple(secrets)
    failed = [
        CheckFailure(
            check=check_label(check, secrets=secrets),
            reason=_one_line(result.reason, secrets=secrets),
            failures_in_a_row=count,
        )
        for check, result, count in zip(checks, tally.last, tally.failures_in_a_row, strict=True)
        if count >= failures_to_fail
    ]
    if failed:
        shown = "; ".join(f"{f.check}: {f.reason}" for f in failed[:_FAILURES_SHOWN])
        more = len(failed) - _FAILURES_SHOWN
        text = f"Verification of {_what(plan)} failed: {shown}" + (
            f"; and {more} more" if more > 0 else ""
        )
        return VerifyFailed(
            failures=tuple(failed), after_s=elapsed_s, rounds=tally.rounds, text=text
        )
    green = sum(1 for result in tally.last if result.healthy)
    if elapsed_s >= verify_s and green == len(checks):
        text = f"Verified {_what(plan)}: {_checks(green)} green for {_duration(verify_s)}."
        return Verified(checks=green, verify_s=verify_s, rounds=tally.rounds, text=text)
    return Verifying(green=green, total=len(checks), left_s=max(verify_s - elapsed_s, 0))
