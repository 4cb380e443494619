"""What the in-process git reader (``gitrepo``) keeps: answers that can never change.

A commit is named by its content's hash, and so is everything it descends from: the commits
between two full shas (their newest few and their count), and how two full shas stand to
each other, are the same today and tomorrow, in every copy of the repository that has them.
So they are kept in a bounded least-recently-used map in this process (1,024 entries), keyed
by the repository's path and the shas (and the sizes asked for). Nothing found through a
ref name (a tag, a branch) is ever kept: a tag can move. A failure is never kept either.
Likewise what an object a tag points at peels to (``PEELED``: an annotated tag's object
names the object it tags by hash) and that commit's subject: the tag's name is read again
every time, only what its object id stands for is kept (4,096 entries).

The maps live only in this process: another worker that asks again reads the repository
again, and gets the same answer. Only the event loop's thread reads and writes ``RANGES``;
``PEELED`` is used by the reads' worker threads, under its lock.
"""

import re
import threading
from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["PEELED", "RANGES", "LockedLru", "Lru", "is_full_sha"]

_FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def is_full_sha(text: str) -> bool:
    """A whole commit name (SHA-1 or SHA-256), never a ref or an abbreviation."""
    return bool(_FULL_SHA.fullmatch(text))


class Lru:
    """A bounded map that forgets the entry used longest ago; counts its hits and misses."""

    def __init__(self, *, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[Hashable, object] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> object | None:
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(key)
        return found

    def put(self, key: Hashable, value: object) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)


RANGES = Lru(size=1024)


class LockedLru(Lru):
    """An ``Lru`` for several threads: every call under one lock."""

    def __init__(self, *, size: int) -> None:
        super().__init__(size=size)
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> object | None:
        with self._lock:
            return super().get(key)

    def put(self, key: Hashable, value: object) -> None:
        with self._lock:
            super().put(key, value)

    def clear(self) -> None:
        with self._lock:
            super().clear()


#: (repository path, a tag ref's object id) -> ``gitrepo.TagRef`` (the id it peels to and
#: that commit's subject): what ``gitrepo`` read once for an object, never for a name.
PEELED = LockedLru(size=4096)
