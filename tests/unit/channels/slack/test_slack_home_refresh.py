"""When a refresh round is due (``Debounce``, pure), and which events open a home."""

from typing import Any

import pytest

from channels.slack.home.publish import HomeOpened, home_opened
from channels.slack.home.refresh import Debounce

# Each step: (what happens, at second t); then whether a round is due at t and when next.
STEPS = [
    # a burst of changes makes one round, settle_s after the first
    ([("changed", 0.0), ("changed", 0.2), ("changed", 0.9)], 0.9, False, 1.0),
    ([("changed", 0.0), ("changed", 0.5)], 1.0, True, 1.0),
    # after a round, the next waits for the interval, however many changes come
    ([("changed", 0.0), ("ran", 1.0), ("changed", 1.5), ("changed", 2.0)], 3.0, False, 6.0),
    ([("changed", 0.0), ("ran", 1.0), ("changed", 1.5)], 6.0, True, 6.0),
    # a change long after the last round settles only
    ([("changed", 0.0), ("ran", 1.0), ("changed", 20.0)], 21.0, True, 21.0),
    # no change, no round
    ([("ran", 1.0)], 50.0, False, None),
    # Slack said to wait 30 s
    ([("changed", 0.0), ("ran", 1.0), ("limited", 1.2)], 30.0, False, 31.2),
]


@pytest.mark.parametrize(("steps", "at", "ready", "due"), STEPS)
def test_rounds_are_debounced(
    steps: list[tuple[str, float]], at: float, ready: bool, due: float | None
) -> None:
    debounce = Debounce(settle_s=1.0, interval_s=5.0)
    for what, t in steps:
        match what:
            case "changed":
                debounce.changed(t)
            case "ran":
                debounce.ran(t)
            case "limited":
                debounce.limited(t, 30.0)
    assert debounce.ready(at) == ready
    assert debounce.due_s == due


@pytest.mark.parametrize(
    ("now", "due", "most", "wait"),
    [(0.0, None, 2.0, 2.0), (0.0, 1.0, 2.0, 1.0), (3.0, 1.0, 2.0, 0.0), (0.0, 9.0, 0.0, 0.0)],
)
def test_waiting_never_passes_a_round_that_is_due(
    now: float, due: float | None, most: float, wait: float
) -> None:
    debounce = Debounce(settle_s=1.0, interval_s=5.0)
    debounce.due_s = due
    assert debounce.wait_s(now, most_s=most) == wait


def opened(**event: Any) -> dict[str, Any]:
    return {"type": "event_callback", "event_id": "Ev1", "event": event}


@pytest.mark.parametrize(
    ("body", "found"),
    [
        (opened(type="app_home_opened", user="U0ALICE", tab="home"), HomeOpened(user="U0ALICE")),
        (opened(type="app_home_opened", user="U0ALICE", tab="messages"), None),
        (opened(type="app_home_opened", tab="home"), None),
        (opened(type="app_home_opened", user="", tab="home"), None),
        (opened(type="app_home_opened", user="U0 <!channel>", tab="home"), None),
        (opened(type="app_mention", user="U0ALICE", tab="home"), None),
        ({"event_id": "Ev1"}, None),
    ],
)
def test_only_the_home_tab_of_a_user_is_published(
    body: dict[str, Any], found: HomeOpened | None
) -> None:
    assert home_opened(body) == found
