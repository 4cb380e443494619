"""How the verifier paces its rounds, as frozen values the wiring fills from the settings
(``DEPLOYBOT_VERIFY_INTERVAL_S``) and tests shorten or drive: ``VerifyTimings`` (the rounds'
interval, how many failing rounds fail a check, a command check's grace after its stop
signal) and ``Stopwatch`` (the monotonic clock the rounds are timed by and how they wait)."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.core.policy.verification import DEFAULT_FAILURES_TO_FAIL

__all__ = ["DEFAULT_VERIFY_TIMINGS", "SYSTEM_STOPWATCH", "Stopwatch", "VerifyTimings"]


@dataclass(frozen=True, kw_only=True)
class VerifyTimings:
    #: From the start of one round of checks to the start of the next.
    interval_s: float = 15
    #: Failing rounds in a row that fail a check (one blip does not roll a release back).
    failures_to_fail: int = DEFAULT_FAILURES_TO_FAIL
    #: How long a command check may take to stop after its stop signal before it is killed.
    grace_s: float = 2

    def __post_init__(self) -> None:
        if self.interval_s <= 0:
            raise ValueError("interval_s must be > 0")
        if self.failures_to_fail < 1:
            raise ValueError("failures_to_fail must be >= 1")


@dataclass(frozen=True, kw_only=True)
class Stopwatch:
    #: Seconds on a monotonic clock.
    now_s: Callable[[], float] = time.monotonic
    #: How a round waits for the next.
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


DEFAULT_VERIFY_TIMINGS = VerifyTimings()
SYSTEM_STOPWATCH = Stopwatch()
