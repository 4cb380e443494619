"""The words of a verification (pure): how a check is named, how long it runs, and the
start, progress and verdict lines the thread shows.

Everything here is redacted and one line: a check's URL, argv or query may carry a token,
and a reason is a command's output or a server's answer (outside text).
"""

import math
from collections.abc import Iterable, Sequence
from typing import assert_never

from bot.core.config.service import Check, CommandCheck, HttpCheck, PrometheusCheck
from bot.core.thread.plan import Plan
from bot.core.wording.redact import redact, strip_ansi

__all__ = [
    "check_label",
    "check_subject",
    "checks_text",
    "duration_text",
    "failed_text",
    "left_text",
    "no_rollback_text",
    "one_line_reason",
    "progress_line",
    "start_text",
    "verified_text",
]

_LABEL_CHARS = 60
_SUBJECT_CHARS = 100
_REASON_CHARS = 160
_REASON_LINES = 3
_FAILURES_SHOWN = 3
_SECONDS_UNDER_S = 120  # "90 s", not "1 min"; from two minutes on, minutes


def _cut(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def _clean(raw: str, *, secrets: Iterable[str], max_chars: int) -> str:
    return _cut(" ".join(redact(raw, secrets=secrets).split()), max_chars)


def check_subject(check: Check, *, secrets: Iterable[str] = ()) -> str:
    """What a check looks at, without its kind: the URL, the argv, the PromQL expression
    (``no data for <subject>``); redacted, one line, capped."""
    match check:
        case HttpCheck():
            raw = check.http
        case CommandCheck():
            raw = " ".join(check.command)
        case PrometheusCheck():
            raw = check.prometheus
        case _:
            assert_never(check)
    return _clean(raw, secrets=secrets, max_chars=_SUBJECT_CHARS)


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
    return _clean(raw, secrets=secrets, max_chars=_LABEL_CHARS)


def one_line_reason(reason: str, *, secrets: Iterable[str]) -> str:
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


def duration_text(seconds: float) -> str:
    """``12 s``, ``1.5 s``, ``90 s`` under two minutes; ``10 min``, ``2 min 30 s`` after."""
    if seconds < _SECONDS_UNDER_S:
        return f"{seconds:g} s" if seconds < 10 else f"{round(seconds)} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min" if rest == 0 else f"{minutes} min {rest} s"


def left_text(seconds: float) -> str:
    """Time left, rounded up: seconds under two minutes, whole minutes after."""
    if seconds >= _SECONDS_UNDER_S:
        return f"{math.ceil(seconds / 60)} min"
    return f"{max(math.ceil(seconds), 0)} s"


def checks_text(count: int) -> str:
    return f"{count} check" + ("" if count == 1 else "s")


def _what(plan: Plan) -> str:
    return f"{plan.service} {plan.version} in {plan.environment}"


def start_text(plan: Plan, *, checks: int, verify_s: float) -> str:
    """ "Verifying backend v1.4.2 in production: 2 checks for 12 s ..."."""
    return f"Verifying {_what(plan)}: {checks_text(checks)} for {duration_text(verify_s)} ..."


def progress_line(plan: Plan, *, green: int, total: int, no_data: int, left_s: float) -> str:
    """ "Verifying backend v1.4.2 in production: 2 of 3 checks green, 1 without data,
    4 min left"."""
    seen = f"{green} of {checks_text(total)} green"
    unseen = f", {no_data} without data" if no_data else ""
    return f"Verifying {_what(plan)}: {seen}{unseen}, {left_text(left_s)} left"


def failed_text(plan: Plan, failures: Sequence[str]) -> str:
    """ "Verification of ... failed: <check>: <reason>; no data for <subject>: <reason>"."""
    shown = "; ".join(failures[:_FAILURES_SHOWN])
    more = len(failures) - _FAILURES_SHOWN
    return f"Verification of {_what(plan)} failed: {shown}" + (
        f"; and {more} more" if more > 0 else ""
    )


def verified_text(plan: Plan, *, green: int, verify_s: float, ignored: Sequence[str]) -> str:
    """ "Verified ...: 2 checks green for 10 min." and, for checks whose missing data the
    config ignores, that they saw none (a verdict says only what was observed)."""
    text = f"Verified {_what(plan)}: {checks_text(green)} green for {duration_text(verify_s)}"
    if not ignored:
        return text + "."
    return text + f"; no data (ignored as configured) for {', '.join(ignored)}."


def no_rollback_text(plan: Plan, headline: str) -> str:
    """After ``plan``'s version failed verification and no rollback can run (``headline``
    says so and why): what stays where, and what a person can do about it."""
    svc, env, version = plan.service, plan.environment, plan.version
    return (
        f"{headline.strip()} {svc} {version} stays quarantined in {env}: nothing deploys it "
        "there again until an approver releases it. What you can do: go back to a version "
        f"you know works (`rollback {svc} in {env} to <version>`), deploy a fixed one "
        f"(`deploy {svc} <version> to {env}`), or fix the cause and have an approver lift "
        f"the quarantine (`release {svc} {version} in {env} <reason>`) to deploy it again."
    )
