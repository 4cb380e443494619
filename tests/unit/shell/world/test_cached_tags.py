"""``bot.shell.world.lookups.cached_tags``: the tags cache's bytes read as tags, the same
bytes parsed once; each caller gets a list of its own, and other bytes read afresh."""

import pytest
from pydantic import ValidationError

from bot.core.thread.plan import Tag
from bot.shell.world.lookups import cached_tags

RAW = (
    b'[{"name":"v1.4.2","sha":"'
    + b"a" * 40
    + b'","subject":"fix login"},{"name":"v1.4.1","sha":"'
    + b"b" * 40
    + b'","subject":null}]'
)


def test_the_same_bytes_give_equal_lists_of_their_own() -> None:
    first = cached_tags(RAW)
    assert first == [
        Tag(name="v1.4.2", sha="a" * 40, subject="fix login"),
        Tag(name="v1.4.1", sha="b" * 40, subject=None),
    ]
    first.append(Tag(name="v9", sha="c" * 40))  # a caller's own list
    first.pop(0)
    again = cached_tags(RAW)
    assert [t.name for t in again] == ["v1.4.2", "v1.4.1"]
    assert again is not first


def test_other_bytes_are_read_afresh_and_bad_bytes_refused_each_time() -> None:
    moved = RAW.replace(b"a" * 40, b"d" * 40)
    assert cached_tags(moved)[0].sha == "d" * 40
    assert cached_tags(RAW)[0].sha == "a" * 40
    for _ in range(2):
        with pytest.raises(ValidationError):
            cached_tags(b'[{"name": 1}]')
