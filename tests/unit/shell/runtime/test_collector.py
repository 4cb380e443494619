"""The garbage collector's settings of a long-running command
(bot/shell/runtime/collector.py): start-up's objects frozen, the young generation collected
less often, and the time collections take counted for the benchmark. Each test puts the
process's collector back as it found it."""

import gc
from collections.abc import Iterator

import pytest

from bot.shell.runtime import collector


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    callbacks = list(gc.callbacks)
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
        gc.callbacks[:] = callbacks


class Cycle:
    def __init__(self) -> None:
        self.me = self


@pytest.mark.usefixtures("restored_gc")
def test_settle_freezes_what_lives_and_raises_the_young_threshold() -> None:
    gc.unfreeze()
    older = gc.get_threshold()[1:]
    collector.settle()
    assert gc.get_freeze_count() > 1000  # the modules and objects of this process
    assert gc.get_threshold() == (collector.YOUNG_THRESHOLD, *older)


@pytest.mark.usefixtures("restored_gc")
def test_cycles_made_after_settle_are_still_collected() -> None:
    collector.settle()
    Cycle()  # unreachable at once, kept alive only by its own reference
    assert gc.collect() >= 1


@pytest.mark.usefixtures("restored_gc")
def test_the_time_collections_take_is_counted_from_the_watch_on() -> None:
    before = collector.gc_seconds()
    collector.watch_collections()
    for _ in range(3):
        Cycle()
        gc.collect()
    assert collector.gc_seconds() > before
