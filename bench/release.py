"""Benchmark: what release policy (issue 19) costs a plan, in CPU, side by side in one run.

A benchmark, not a test: pytest never collects it. Run from the repository root:

    .venv/bin/python bench/release.py [--iterations 20000]

Every plan is checked twice, with the same pure decision
(``bot.core.release.gate.check_release_policy``): when it is made and under the lock just before
it runs. Its I/O is zero round trips for an environment without ``requires`` (freezes are
read from the config, the queue's head rides in the lock grant's pipeline) and one
``HMGET`` per required environment, pipelined into one round trip, where it has
``requires`` (bot/shell/deploy/release_gate.py); the round trips of a whole launch and an
approve+deploy are held by tests/integration/shell/loop/test_round_trips.py.

Cases, each timed with ``time.process_time`` over ``--iterations`` calls, interleaved in
``--rounds`` passes (noise on a shared machine hits all alike):

- ``no policy``: an environment with neither freezes nor ``requires`` (today's default).
- ``3 freezes, none open``: a weekly RRULE window, a nightly one and a one-off range, in
  Europe/Berlin, checked at a time outside all of them.
- ``3 freezes, one open``: the same, inside the weekly window (the refusal is worded).
- ``requires + soak``: ``requires = ["staging"]``, ``soak_s = 1800``, a soaked version.
- ``all of it``: the freezes (none open) and requires + soak.

Prints a markdown table: microseconds per check, and per plan (two checks).
"""

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import PurePath

from bot.core.config.config import Config, parse_config
from bot.core.release.gate import check_release_policy
from bot.core.release.promotion import SoakFacts, SoakMark
from bot.core.thread.plan import Plan

BASE = """
[people.alice]
slack = "U0ALICE"
[services.backend]
repo = "r"
deploy = ["./d"]
environments = ["staging", "production"]
[environments.staging]
[environments.production]
"""
REQUIRES = 'requires = ["staging"]\nsoak_s = 1800\nsoak_override_by = ["alice"]\n'
FREEZES = """
[[freezes]]
name = "weekend"
environments = ["production"]
rrule = "FREQ=WEEKLY;BYDAY=FR;BYHOUR=16;BYMINUTE=0"
duration_s = 230400
timezone = "Europe/Berlin"
reason = "no weekend deploys"
break_glass = ["alice"]

[[freezes]]
name = "nightly"
environments = ["production"]
rrule = "FREQ=DAILY;BYHOUR=23;BYMINUTE=0"
duration_s = 7200
timezone = "Europe/Berlin"
reason = "backups"

[[freezes]]
name = "holidays"
environments = ["production"]
from = "2026-12-23T18:00"
until = "2027-01-04T08:00"
timezone = "Europe/Berlin"
reason = "holiday freeze"
"""
WEEKDAY = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)  # a Wednesday morning: no freeze open
SATURDAY = datetime(2026, 11, 7, 10, 0, tzinfo=UTC)  # inside the weekend window
PLAN = Plan(
    kind="deploy",
    service="backend",
    environment="production",
    version="v1.4.2",
    sha="a" * 40,
    requester="alice",
)
SOAKED = {
    "staging": SoakFacts(
        mark=SoakMark(
            version="v1.4.2", deployed_at=WEEKDAY - timedelta(hours=3), needs_verification=False
        )
    )
}


def _config(*, requires: bool, freezes: bool) -> Config:
    text = BASE.replace("[environments.production]\n", "[environments.production]\n" + REQUIRES)
    text = text if requires else BASE
    return parse_config(text + (FREEZES if freezes else ""), base_dir=PurePath("/"))


def _case(config: Config, now: datetime, facts: dict[str, SoakFacts]) -> Callable[[], object]:
    def check() -> object:
        return check_release_policy(config, plan=PLAN, facts=facts, now=now, person="alice")

    return check


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    cases = {
        "no policy": _case(_config(requires=False, freezes=False), WEEKDAY, {}),
        "3 freezes, none open": _case(_config(requires=False, freezes=True), WEEKDAY, {}),
        "3 freezes, one open": _case(_config(requires=False, freezes=True), SATURDAY, {}),
        "requires + soak": _case(_config(requires=True, freezes=False), WEEKDAY, SOAKED),
        "all of it": _case(_config(requires=True, freezes=True), WEEKDAY, SOAKED),
    }
    for check in cases.values():  # warm the memos (a worker has, after its first plan)
        check()
    spent = dict.fromkeys(cases, 0.0)
    per_round = max(1, args.iterations // args.rounds)
    for _ in range(args.rounds):
        for name, check in cases.items():
            start = time.process_time()
            for _ in range(per_round):
                check()
            spent[name] += time.process_time() - start
    calls = per_round * args.rounds
    base = spent["no policy"] / calls * 1e6
    print("| case | µs per check | µs per plan (2 checks) | x no policy |")
    print("|---|---:|---:|---:|")
    for name, seconds in spent.items():
        micro = seconds / calls * 1e6
        print(f"| {name} | {micro:.1f} | {2 * micro:.1f} | {micro / base:.1f} |")


if __name__ == "__main__":
    main()
