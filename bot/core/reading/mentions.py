"""Which configured names a free-text request mentions: what the turn looks up (tags,
recent deploys) before the model reads the thread.

A name is mentioned when it occurs anywhere in the text, case-insensitively (``backend`` in
"Ship the BACKEND!", and in "backends" too: a hint for what to look up, not a command).
Names are lower-case letters, digits, '-' and '_' (bot/core/config/config.py), so a name
can only occur inside a run of those characters: each run is walked through a trie of the
names. For a thousand services that is about ten microseconds a request, where testing
every name against the text and sorting them all took about a tenth of a launch's CPU
(issue 18, bench/threads.py).

The trie is built once for the collection of names given (the config's, which does not
change while the bot runs): it is kept for that very object, and rebuilt when another one
(a new config) is given.
"""

import re
from collections.abc import Collection

__all__ = ["mentioned"]

_RUN = re.compile(r"[a-z0-9_-]+")


class _Node:
    __slots__ = ("children", "name")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.name: str | None = None  # a name ends here


class _Index:
    __slots__ = ("names", "root", "sorted")

    def __init__(self, names: Collection[str]) -> None:
        self.names = names  # held: its id cannot be another object's while this is kept
        self.root = _Node()
        for name in names:
            node = self.root
            for char in name:
                node = node.children.setdefault(char, _Node())
            node.name = name
        self.sorted = sorted(names)


_last: _Index | None = None


def mentioned(text: str, names: Collection[str], *, otherwise: int = 0) -> list[str]:
    """The ``names`` that occur in ``text``, sorted; when none does, the first ``otherwise``
    names in sorted order."""
    global _last
    index = _last
    if index is None or index.names is not names or len(index.sorted) != len(names):
        index = _last = _Index(names)
    found: set[str] = set()
    for run in _RUN.findall(text.lower()):
        for start in range(len(run)):
            node = index.root
            for char in run[start:]:
                next_node = node.children.get(char)
                if next_node is None:
                    break
                node = next_node
                if node.name is not None:
                    found.add(node.name)
    return sorted(found) if found else index.sorted[:otherwise]
