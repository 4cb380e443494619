"""Python's garbage collector in a long-running command: what start-up loaded is frozen,
and the young generation is collected less often.

A worker allocates thousands of short-lived objects per turn (pydantic models, Redis
replies, coroutine frames), and with CPython's default threshold (700 allocations) a young
collection ran every few hundred microseconds of a turn, while every older collection
walked the modules, schemas and the app built at start-up, which live for the whole
process. Measured in ``bench/threads.py`` (issue 18): 0.27 s of 300 launches and 300
approve+deploys went to collections (about 0.45 ms a turn, 11% of a launch's CPU); frozen
and with a young threshold of ``YOUNG_THRESHOLD``, 0.06 s. Nearly every object of a turn dies by
reference counting at once; what cycles remain (tracebacks, tasks) are still collected.

``settle`` is called once, after the app is built (``bot.app.services``).
"""

import gc
import time

__all__ = ["YOUNG_THRESHOLD", "gc_seconds", "settle", "watch_collections"]

#: Allocations (minus deallocations) between two collections of the youngest generation;
#: CPython's default is 700.
YOUNG_THRESHOLD = 5000

_collecting: list[float] = [0.0, 0.0]  # [seconds spent so far, start of the current one]


def settle() -> None:
    """Freeze every object alive now (collections no longer walk them) and collect the
    young generation every ``YOUNG_THRESHOLD`` allocations; the older generations keep
    CPython's ratios."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)


def gc_seconds() -> float:
    """Wall time spent in collections since ``watch_collections`` (for the benchmark)."""
    return _collecting[0]


def watch_collections() -> None:
    """Count the time each collection takes, from now on (once per process)."""

    def timed(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            _collecting[1] = time.perf_counter()
        else:
            _collecting[0] += time.perf_counter() - _collecting[1]

    gc.callbacks.append(timed)
