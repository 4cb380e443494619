"""The OpenAPI 3.1 document of the HTTP API, generated from the same models that validate.

Served at ``GET /openapi.json``; Schemathesis reads it in the test suite.
"""

from pydantic import BaseModel, JsonValue
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from .auth import SIGNATURE_HEADER
from .bodies import (
    ApiError,
    ApprovalResume,
    CancelResume,
    EventAccepted,
    LaunchRequest,
    MessageResume,
    ThreadCreated,
    ThreadView,
    WebhookAccepted,
)

__all__ = ["THREAD_ID_PATTERN", "openapi_document"]

THREAD_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"

_MODELS: list[tuple[type[BaseModel], JsonSchemaMode]] = [
    (LaunchRequest, "validation"),
    (ApprovalResume, "validation"),
    (MessageResume, "validation"),
    (CancelResume, "validation"),
    (ThreadCreated, "serialization"),
    (ThreadView, "serialization"),
    (EventAccepted, "serialization"),
    (WebhookAccepted, "serialization"),
    (ApiError, "serialization"),
]

_ERRORS: dict[int, str] = {
    401: "Missing or wrong credentials.",
    403: "That person may not do this (not in [people], or policy refuses the decision).",
    404: "No such thread or webhook.",
    409: "The thread is not waiting for this.",
    413: "The body is larger than 64 KiB.",
    422: "The body is not what this route takes (or nests JSON deeper than 64 levels); the "
    "error names the field.",
    500: "The server failed on this request; it was set aside for an operator.",
    503: "Redis is unreachable, or the server lacks DEPLOYBOT_API_TOKEN / "
    "DEPLOYBOT_WEBHOOK_SECRET.",
}


def _ref(name: str) -> dict[str, JsonValue]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: JsonValue) -> dict[str, JsonValue]:
    return {"application/json": {"schema": schema}}


def _responses(ok: dict[int, tuple[str, str]], errors: list[int]) -> dict[str, JsonValue]:
    out: dict[str, JsonValue] = {
        str(code): {"description": what, "content": _json(_ref(model))}
        for code, (model, what) in ok.items()
    }
    for code in errors:
        out[str(code)] = {"description": _ERRORS[code], "content": _json(_ref("ApiError"))}
    return out


def _path_param(name: str, description: str, pattern: str | None = None) -> JsonValue:
    schema: dict[str, JsonValue] = {"type": "string", "minLength": 1}
    if pattern:
        schema["pattern"] = pattern
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema,
    }


def openapi_document() -> dict[str, JsonValue]:
    _, top = models_json_schema(_MODELS, ref_template="#/components/schemas/{model}")
    schemas: dict[str, JsonValue] = dict(top.get("$defs", {}))
    schemas["ResumeRequest"] = {
        "oneOf": [_ref("ApprovalResume"), _ref("MessageResume"), _ref("CancelResume")],
        "discriminator": {
            "propertyName": "type",
            "mapping": {
                "approval": "#/components/schemas/ApprovalResume",
                "message": "#/components/schemas/MessageResume",
                "cancel": "#/components/schemas/CancelResume",
            },
        },
    }
    bearer: list[JsonValue] = [{"bearer": []}]
    thread_id = _path_param("id", "A thread's id.", THREAD_ID_PATTERN)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "deploybot",
            "version": "1",
            "description": "Launch, query and resume deploybot threads; signed webhooks. "
            "Every /v1 route except webhooks needs 'Authorization: Bearer "
            "$DEPLOYBOT_API_TOKEN'; webhooks are signed with DEPLOYBOT_WEBHOOK_SECRET instead.",
        },
        "paths": {
            "/v1/threads": {
                "post": {
                    "operationId": "launchThread",
                    "summary": "Start a thread with a request in words, as a person.",
                    "description": "when_ready, skip_soak and break_glass are only for a "
                    "deploy command in text that deploybot reads exactly and that has no "
                    "suffix of its own: their words are appended to text, and the launch "
                    "happens only if the result reads as that deploy with exactly those "
                    "overrides (else 422 naming the field; nothing is launched). A reason "
                    "holding negation, condition or hedging is a 422: word it without them.",
                    "security": bearer,
                    "requestBody": {"required": True, "content": _json(_ref("LaunchRequest"))},
                    "responses": _responses(
                        {201: ("ThreadCreated", "Accepted; poll the thread for its progress.")},
                        [401, 403, 413, 422, 500, 503],
                    ),
                }
            },
            "/v1/threads/{id}": {
                "get": {
                    "operationId": "getThread",
                    "summary": "The thread, its derived status and its events.",
                    "security": bearer,
                    "parameters": [thread_id],
                    "responses": _responses(
                        {200: ("ThreadView", "The thread.")}, [401, 404, 500, 503]
                    ),
                }
            },
            "/v1/threads/{id}/events": {
                "post": {
                    "operationId": "resumeThread",
                    "summary": "Resume a thread: an approval decision, a message or a cancel.",
                    "description": "An approval must name the plan it decides: plan_hash, "
                    "as GET shows it in approval.plan_hash (missing: 422). If the thread "
                    "waits on another plan (the request was replaced, superseded or "
                    "expired), the answer is 409 and nothing is decided; 403 when that "
                    "person may not decide. A cancel takes a queued thread's deploy out of "
                    "line (or stops its wait for the soak or a freeze): 409 when the thread "
                    "is not queued or plan_hash is not the plan waiting in line; 403 when "
                    "that person is neither its requester nor an approver of its "
                    "environment.",
                    "security": bearer,
                    "parameters": [thread_id],
                    "requestBody": {"required": True, "content": _json(_ref("ResumeRequest"))},
                    "responses": _responses(
                        {202: ("EventAccepted", "Queued for the thread; poll it.")},
                        [401, 403, 404, 409, 413, 422, 500, 503],
                    ),
                }
            },
            "/v1/webhooks/{name}": {
                "post": {
                    "operationId": "triggerWebhook",
                    "summary": "A signed trigger: starts the instruction the config maps "
                    "the name to, with {field} placeholders filled from the body.",
                    "security": [{"signature": []}],
                    "parameters": [_path_param("name", "A webhook name from the config.")],
                    "requestBody": {
                        "required": False,
                        "content": _json(
                            {
                                "type": "object",
                                "additionalProperties": True,
                                "description": "Top-level fields fill the instruction's "
                                "placeholders; each must be one word of letters, digits "
                                "or ._+/-.",
                            }
                        ),
                    },
                    "responses": _responses(
                        {
                            200: ("WebhookAccepted", "This exact body was received before."),
                            201: ("WebhookAccepted", "A thread was started."),
                        },
                        [401, 404, 413, 422, 500, 503],
                    ),
                }
            },
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "signature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": SIGNATURE_HEADER,
                    "description": "sha256=<hex HMAC-SHA256 of the raw body with "
                    "DEPLOYBOT_WEBHOOK_SECRET>",
                },
            },
        },
    }
