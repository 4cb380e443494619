"""A frozen environment in ``where can I deploy`` and in ``/metrics``, through the worker on a
real Redis, with the clock the app is given: the clause and the gauge follow the freeze's
window, and nothing changes where no freeze holds."""

from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.app.bootstrap import App
from bot.app.webapp import metrics_text
from tests.support import Clock, make_app, say, texts, thread_of, write_setup

# The test clock starts Monday 2 Nov 2026, 09:00 UTC (10:00 in Berlin).
FREEZES = """
[[freezes]]
name = "review"
environments = ["production"]
from = "2026-11-02T08:00"
until = "2026-11-02T18:00"
timezone = "Europe/Berlin"
reason = "quarterly review"
break_glass = ["alice"]

[[freezes]]
name = "nights"
environments = ["production", "staging"]
rrule = "FREQ=DAILY;BYHOUR=22"
duration_s = 36000
timezone = "Europe/Berlin"
reason = "nobody on call"
"""


@pytest.fixture
def setup(tmp_path: Path) -> Path:
    return write_setup(tmp_path, tail=FREEZES)


async def where(app: App, thread: str) -> str:
    await say(app, thread, "slack:U0BOB", "where can I deploy backend", new=True)
    await app.worker.run_until_idle()
    return texts(await thread_of(app, thread))[-1]


async def test_where_says_until_when_an_environment_is_frozen(
    redis: Redis, key_prefix: str, setup: Path
) -> None:
    clock = Clock()
    app = make_app(redis, prefix=key_prefix, config_file=setup, clock=clock)

    # 10:00 in Berlin: the review (08:00-18:00 Berlin) holds production
    assert await where(app, "w1") == (
        "Where backend can go:\n"
        "  staging: never deployed, no approval needed\n"
        "  production: never deployed, needs approval, frozen until Mon 2 Nov 17:00 UTC "
        "(quarterly review)"
    )

    # 19:00 in Berlin: nothing holds either
    clock.advance(9 * 3600)
    assert await where(app, "w2") == (
        "Where backend can go:\n"
        "  staging: never deployed, no approval needed\n"
        "  production: never deployed, needs approval"
    )

    # 23:00 in Berlin: the nights hold both, until 08:00 Berlin (07:00 UTC)
    clock.advance(4 * 3600)
    assert await where(app, "w3") == (
        "Where backend can go:\n"
        "  staging: never deployed, no approval needed, frozen until Tue 3 Nov 07:00 UTC "
        "(nobody on call)\n"
        "  production: never deployed, needs approval, frozen until Tue 3 Nov 07:00 UTC "
        "(nobody on call)"
    )


async def test_where_shows_the_freeze_before_a_lock(
    redis: Redis, key_prefix: str, setup: Path
) -> None:
    app = make_app(redis, prefix=key_prefix, config_file=setup, clock=Clock())
    await say(app, "lock", "slack:U0ALICE", "lock production audit", new=True)
    await app.worker.run_until_idle()

    assert (await where(app, "w")).endswith(
        "  production: never deployed, needs approval, frozen until Mon 2 Nov 17:00 UTC "
        "(quarterly review), locked by alice (audit) since 09:00 UTC"
    )


def gauges(text: str) -> list[str]:
    return [line for line in text.splitlines() if "deploybot_freeze_active" in line]


async def test_metrics_say_which_freezes_are_open(
    redis: Redis, key_prefix: str, setup: Path
) -> None:
    clock = Clock()
    app = make_app(redis, prefix=key_prefix, config_file=setup, clock=clock)

    assert gauges(await metrics_text(app)) == [
        "# HELP deploybot_freeze_active 1 while the freeze window is open on the environment.",
        "# TYPE deploybot_freeze_active gauge",
        'deploybot_freeze_active{environment="production",freeze="review"} 1',
        'deploybot_freeze_active{environment="production",freeze="nights"} 0',
        'deploybot_freeze_active{environment="staging",freeze="nights"} 0',
    ]

    clock.advance(13 * 3600)  # 23:00 in Berlin
    assert gauges(await metrics_text(app))[2:] == [
        'deploybot_freeze_active{environment="production",freeze="review"} 0',
        'deploybot_freeze_active{environment="production",freeze="nights"} 1',
        'deploybot_freeze_active{environment="staging",freeze="nights"} 1',
    ]


async def test_without_freezes_metrics_have_no_series(
    redis: Redis, key_prefix: str, tmp_path: Path
) -> None:
    app = make_app(redis, prefix=key_prefix, config_file=write_setup(tmp_path), clock=Clock())

    assert gauges(await metrics_text(app)) == [
        "# HELP deploybot_freeze_active 1 while the freeze window is open on the environment.",
        "# TYPE deploybot_freeze_active gauge",
    ]
