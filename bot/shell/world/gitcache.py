"""What the in-process git reader (``gitrepo``) keeps: answers that can never change.

A commit is named by its content's hash, and so is everything it descends from: the commits
between two full shas (their newest few and their count), and how two full shas stand to
each other, are the same today and tomorrow, in every copy of the repository that has them.
So they are kept in a bounded least-recently-used map in this process (1,024 entries), keyed
by the repository's path and the shas (and the sizes asked for). Nothing found through a
ref name (a tag, a branch) is ever kept: a tag can move. A failure is never kept either.

The map lives only in this process: another worker that asks again reads the repository
again, and gets the same answer. Only the event loop's thread reads and writes it.
"""

import re
from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["RANGES", "Lru", "is_full_sha"]

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
