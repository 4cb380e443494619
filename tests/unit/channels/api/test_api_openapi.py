"""The OpenAPI document says what the API takes and answers, release policy's shapes included:
it is generated from the models that validate, so these check the generation reaches them."""

from typing import get_args

import pytest
from pydantic import JsonValue

from bot.core.thread.thread import Status
from channels.api.bodies import CancelResume, LaunchRequest
from channels.api.openapi import openapi_document

DOC = openapi_document()


def schema(name: str) -> dict[str, JsonValue]:
    components = DOC["components"]
    assert isinstance(components, dict)
    schemas = components["schemas"]
    assert isinstance(schemas, dict)
    found = schemas[name]
    assert isinstance(found, dict)
    return found


def properties(name: str) -> dict[str, JsonValue]:
    props = schema(name)["properties"]
    assert isinstance(props, dict)
    return props


@pytest.mark.parametrize("model", ["ThreadView", "ThreadCreated", "EventAccepted"])
def test_every_status_is_in_the_enum(model: str) -> None:
    status = properties(model)["status"]
    assert isinstance(status, dict)
    assert status["enum"] == list(get_args(Status))
    assert "queued" in get_args(Status)


def test_launch_takes_release_policy_fields() -> None:
    props = properties("LaunchRequest")
    assert set(props) == set(LaunchRequest.model_fields)
    assert {"when_ready", "skip_soak", "break_glass"} <= set(props)
    assert schema("LaunchRequest")["required"] == ["text", "user"]
    when_ready = props["when_ready"]
    assert isinstance(when_ready, dict)
    assert when_ready["type"] == "boolean"


def test_resume_takes_a_cancel() -> None:
    resume = schema("ResumeRequest")
    discriminator = resume["discriminator"]
    assert isinstance(discriminator, dict)
    mapping = discriminator["mapping"]
    assert isinstance(mapping, dict)
    assert mapping["cancel"] == "#/components/schemas/CancelResume"
    one_of = resume["oneOf"]
    assert isinstance(one_of, list)
    assert {"$ref": "#/components/schemas/CancelResume"} in one_of
    assert set(properties("CancelResume")) == set(CancelResume.model_fields)
    assert schema("CancelResume")["required"] == ["type", "user"]


def test_a_thread_shows_its_queue() -> None:
    queue = properties("ThreadView")["queue"]
    assert isinstance(queue, dict)
    any_of = queue["anyOf"]
    assert isinstance(any_of, list)
    assert {"$ref": "#/components/schemas/QueueView"} in any_of
    assert {"plan_hash", "position", "behind", "retry_at", "reason"} == set(properties("QueueView"))
