"""The in-process git reader's memory (bot/shell/world/gitcache.py): bounded, least recently
used first out, and only for whole commit names."""

import pytest

from bot.shell.world.gitcache import RANGES, Lru, is_full_sha


def test_the_entry_used_longest_ago_goes_first() -> None:
    lru = Lru(size=2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a") == 1  # "a" is now the most recent
    lru.put("c", 3)
    assert (lru.get("b"), lru.get("a"), lru.get("c")) == (None, 1, 3)
    assert (len(lru), lru.hits, lru.misses) == (2, 3, 1)
    lru.clear()
    assert (len(lru), lru.hits, lru.misses) == (0, 0, 0)
    assert lru.get("a") is None


def test_the_ranges_cache_is_bounded_to_1024() -> None:
    saved = Lru(size=1024)
    for n in range(1500):
        saved.put(("range", n), n)
    assert len(saved) == 1024
    assert saved.get(("range", 475)) is None
    assert saved.get(("range", 476)) == 476
    assert RANGES._size == 1024


@pytest.mark.parametrize(
    ("text", "full"),
    [
        ("a" * 40, True),
        ("0123456789abcdef" * 4, True),  # SHA-256
        ("a" * 39, False),
        ("A" * 40, False),
        ("a" * 41, False),
        ("refs/tags/v1.0.0", False),
        ("v1.0.0", False),
        ("4f2c9a1", False),
        ("a" * 40 + "\n", False),
    ],
)
def test_only_whole_commit_names_are_kept(text: str, full: bool) -> None:
    assert is_full_sha(text) is full
