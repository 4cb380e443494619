"""Filling a webhook's instruction from its payload: a payload names things, never adds words."""

import pytest
from pydantic import JsonValue

from channels.api.webhook import (
    InstructionError,
    delivery_thread_id,
    fill_instruction,
    placeholders,
)

TEMPLATE = "deploy backend {version} to staging"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"version": "v1.4.3"}, "deploy backend v1.4.3 to staging"),
        ({"version": "1.4.3+build.7"}, "deploy backend 1.4.3+build.7 to staging"),
        ({"version": "release/2026-11"}, "deploy backend release/2026-11 to staging"),
        ({"version": 42}, "deploy backend 42 to staging"),
        ({"version": -1}, "deploy backend -1 to staging"),  # one word: harmless
        (
            {"version": "v1", "ignored": "any thing; at all", "n": [1]},
            "deploy backend v1 to staging",
        ),
    ],
)
def test_fills(fields: dict[str, JsonValue], expected: str) -> None:
    assert fill_instruction(TEMPLATE, fields) == expected


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({}, "missing field version"),
        ({"Version": "v1"}, "missing field version"),
        ({"version": "v1; rm -rf /"}, "version: must be 1-100 letters"),
        ({"version": "v1 to production"}, "no spaces"),
        ({"version": "v1\nto production"}, "no spaces"),
        ({"version": "$(reboot)"}, "version: must be"),
        ({"version": "`id`"}, "version: must be"),
        ({"version": "v1&&x"}, "version: must be"),
        ({"version": "{version}"}, "version: must be"),
        ({"version": ""}, "version: must be"),
        ({"version": "v" * 101}, "version: must be"),
        ({"version": "vé"}, "version: must be"),
        ({"version": True}, "must be a string or an integer"),
        ({"version": None}, "must be a string or an integer"),
        ({"version": 1.5}, "must be a string or an integer"),
        ({"version": ["v1"]}, "must be a string or an integer"),
        ({"version": {"a": "b"}}, "must be a string or an integer"),
    ],
)
def test_refuses(fields: dict[str, JsonValue], problem: str) -> None:
    with pytest.raises(InstructionError) as raised:
        fill_instruction(TEMPLATE, fields)
    assert problem in str(raised.value)


def test_several_placeholders_and_repeats() -> None:
    template = "deploy {service} {version} to staging; {service} again"
    assert placeholders(template) == ["service", "version"]
    got = fill_instruction(template, {"service": "backend", "version": "v2"})
    assert got == "deploy backend v2 to staging; backend again"
    with pytest.raises(InstructionError, match="missing fields service, version"):
        fill_instruction(template, {})


def test_only_simple_names_are_placeholders() -> None:
    # No format-string features: attribute access, indexes and specs stay literal text.
    template = "deploy {a.b} {0} {x!r} {y:>5} {}"
    assert placeholders(template) == []
    assert fill_instruction(template, {}) == template


def test_no_placeholders_needs_no_body() -> None:
    assert fill_instruction("deploy the latest backend tag to staging", {}) == (
        "deploy the latest backend tag to staging"
    )


def test_delivery_thread_id() -> None:
    a = delivery_thread_id("ci", b'{"version":"v1"}')
    assert a == delivery_thread_id("ci", b'{"version":"v1"}')
    assert a != delivery_thread_id("ci", b'{"version": "v1"}')
    assert a != delivery_thread_id("cd", b'{"version":"v1"}')
    assert a.startswith("wh-")
    assert len(a) == 27
