"""How deeply JSON nests, measured without parsing it: linear, no recursion, strings skipped."""

import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.reading.json_shape import MAX_JSON_DEPTH, JsonTooDeep, check_json_depth, json_depth


@pytest.mark.parametrize(
    ("raw", "depth"),
    [
        (b"1", 0),
        (b"{}", 1),
        (b'{"a": [1, {"b": []}]}', 4),
        (b'["[[[[", "\\"[[["]', 1),  # brackets in strings, escaped quotes
        (b'["abc', 1),  # an unterminated string runs to the end
        (b"]]]][[", 2),  # stray closers never go below zero
        ("[\u00e9[]]", 2),
    ],
)
def test_depth(raw: bytes | str, depth: int) -> None:
    assert json_depth(raw) == depth


def test_the_cap() -> None:
    assert check_json_depth(b"[" * 64 + b"]" * 64) is None
    too_deep = check_json_depth(b"[" * 65 + b"]" * 65)
    assert too_deep == JsonTooDeep(depth=65, max_depth=MAX_JSON_DEPTH)
    assert too_deep.reason == "the JSON nests 65 levels deep (at most 64)"


@pytest.mark.parametrize(
    "raw",
    [b"[" * 1_000_000, b'"\\"' * 300_000, b'"' * 1_000_000, b"\\" * 1_000_000, b'"a' * 500_000],
)
def test_a_megabyte_is_measured_in_linear_time(raw: bytes) -> None:
    started = time.perf_counter()
    json_depth(raw)
    assert time.perf_counter() - started < 1.0


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab', max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=30,
)


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


@settings(max_examples=300)
@given(_json)
def test_agrees_with_the_parsed_value(value: object) -> None:
    assert json_depth(json.dumps(value)) == _depth(value)
    assert json_depth(json.dumps(value, ensure_ascii=False).encode()) == _depth(value)
