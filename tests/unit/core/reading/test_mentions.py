"""``bot.core.reading.mentions.mentioned``: the configured names free text mentions, as
"occurs anywhere in the lower-cased text", table-tested and checked against that plain
definition on generated names and texts."""

import random

import pytest

from bot.core.reading.mentions import mentioned

NAMES = {"backend": 1, "api": 2, "api-eu": 3, "b_2": 4, "web": 5, "a": 6, "z9": 7}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ship backend v1.4.2 to production", ["a", "backend"]),  # "a" in "production"
        ("Ship the BACKEND!", ["a", "backend"]),  # "a" is in "backend" too
        ("deploy Api-EU now", ["a", "api", "api-eu"]),  # a name inside a longer one counts
        ("backends", ["a", "backend"]),
        ("b_2/web,z9", ["b_2", "web", "z9"]),  # runs end at other characters
        ("bac-kend", ["a"]),
        ("", ["a", "api", "api-eu"]),  # none: the first three, sorted
        ("nothing here 123", ["a", "api", "api-eu"]),
        ("ünïcode backendß web", ["a", "backend", "web"]),
        ("\u212a", ["a", "api", "api-eu"]),  # the Kelvin sign lower-cases to "k"
    ],
)
def test_names_mentioned_anywhere(text: str, expected: list[str]) -> None:
    assert mentioned(text, NAMES, otherwise=3) == expected


def test_it_agrees_with_testing_every_name_against_the_text() -> None:
    chars = "abcde-_12 .É"
    rng = random.Random(18)
    for _ in range(50):
        names = {
            rng.choice("abcde") + "".join(rng.choice("abcde-_12") for _ in range(rng.randint(0, 5)))
            for _ in range(rng.randint(1, 60))
        }
        for _ in range(20):
            text = "".join(rng.choice(chars) for _ in range(rng.randint(0, 40)))
            plain = sorted(n for n in names if n in text.lower()) or sorted(names)[:5]
            assert mentioned(text, names, otherwise=5) == plain, (text, names)


def test_another_collection_of_names_is_read_afresh() -> None:
    assert mentioned("ship web", {"web": 1}) == ["web"]
    assert mentioned("ship web", {"backend": 1}) == []
    assert mentioned("ship web", {"backend": 1}, otherwise=1) == ["backend"]
