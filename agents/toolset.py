"""The tools an agent offers Claude: one per allowed intent, and the way back to an intent.

A tool's name is the intent's literal (``deploy``), its description the model's docstring and
its input schema the model's JSON schema without the ``intent`` discriminator, with ``enum``
for ``service`` and ``environment`` taken from the config. Tools are sent with
``"strict": true`` so the API constrains the input to the schema; only keywords that strict
tool use supports are kept (``pattern`` and length limits are checked by pydantic instead,
and said in words in the field's description).

``parse_tool_use`` is the inverse: tool name + input -> a validated intent, inside the config,
or ``InvalidIntent`` with a compact message the model can act on next turn.
"""

import inspect
from collections.abc import Mapping, Sequence
from typing import Final

from anthropic.types import ToolParam
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from bot.core.config.config import Config
from bot.core.errors import InvalidIntent
from bot.core.policy.approval import Refused, check_scope
from bot.core.thread.intents import (
    GRAMMAR_ONLY,
    AskHuman,
    Deploy,
    Done,
    Intent,
    ListDeploys,
    ListTags,
    Rollback,
)

__all__ = ["IntentType", "build_tools", "parse_tool_use", "tool_name"]

IntentType = (
    type[ListTags] | type[ListDeploys] | type[Deploy] | type[Rollback] | type[AskHuman] | type[Done]
)

# What each field means, for the model; keyed by (tool, field), then by field.
_FIELD_HELP: Final[Mapping[tuple[str, str] | str, str]] = {
    "service": "A service from <config>.",
    "environment": "One of the service's environments, from <config>.",
    ("deploy", "version"): (
        "A release tag from <tags>, exactly as listed (e.g. v1.4.2). Omit for the newest tag."
    ),
    ("rollback", "version"): (
        "The version to go back to, from <deploys>. Omit for the last version that deployed "
        "successfully before the current one."
    ),
    "message": "One short message to the people in the thread, plain text (max 2000 chars).",
}
# JSON-schema keywords kept in a strict tool's input schema; everything else is dropped.
_KEPT: Final = frozenset({"type", "enum", "const", "description"})
_MAX_MESSAGE_CHARS: Final = 400


def tool_name(intent_type: IntentType) -> str:
    """The tool name of an intent model: its ``intent`` literal."""
    default = intent_type.model_fields["intent"].default
    assert isinstance(default, str)
    return default


def _description(intent_type: IntentType) -> str:
    doc = inspect.cleandoc(intent_type.__doc__ or tool_name(intent_type))
    paragraphs = (" ".join(p.split()) for p in doc.split("\n\n"))
    return "\n\n".join(paragraphs).replace("``", "`")


def _property(
    tool: str, field: str, schema: Mapping[str, object], config: Config
) -> dict[str, object]:
    if "anyOf" in schema:  # `X | None = None`: the field is optional, so just omit it
        variants = schema["anyOf"]
        assert isinstance(variants, list)
        non_null = [v for v in variants if isinstance(v, dict) and v.get("type") != "null"]
        assert len(non_null) == 1, f"{tool}.{field}: unsupported union"
        schema = non_null[0]
    out: dict[str, object] = {k: v for k, v in schema.items() if k in _KEPT}
    if field == "service":
        out["enum"] = list(config.services)
    elif field == "environment":
        out["enum"] = list(config.environments)
    help_text = _FIELD_HELP.get((tool, field)) or _FIELD_HELP.get(field)
    if help_text:
        out["description"] = help_text
    return out


def build_tools(allowed: Sequence[IntentType], *, config: Config) -> list[ToolParam]:
    """The Anthropic tool definitions for these intents, with enums from ``config``."""
    tools: list[ToolParam] = []
    for intent_type in allowed:
        name = tool_name(intent_type)
        schema = intent_type.model_json_schema()
        raw_properties = schema.get("properties", {})
        properties = {
            field: _property(name, field, field_schema, config)
            for field, field_schema in raw_properties.items()
            if field != "intent" and field not in GRAMMAR_ONLY
        }
        required = [f for f in schema.get("required", []) if f in properties]
        tools.append(
            {
                "name": name,
                "description": _description(intent_type),
                "input_schema": {
                    "type": "object",
                    "properties": properties,
                    "required": required,
                    "additionalProperties": False,
                },
                "strict": True,
            }
        )
    return tools


def _problem(error: ErrorDetails) -> str:
    field = ".".join(str(part) for part in error["loc"])
    match error["type"]:
        case "missing":
            return f"missing field {field!r}"
        case "extra_forbidden":
            return f"unexpected field {field!r}"
        case _:
            return f"{field}: {error['msg']}" if field else error["msg"]


def _compact(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE_CHARS else text[: _MAX_MESSAGE_CHARS - 1] + "…"


def parse_tool_use(
    name: str, input: object, *, allowed: Sequence[IntentType], config: Config
) -> Intent:
    """Validate a ``tool_use`` block as one of the ``allowed`` intents, inside ``config``.

    Raises ``InvalidIntent`` naming what was wrong: an unknown tool, a missing or unexpected
    field, a bad value, or a service or environment the config does not hold.
    """
    by_name = {tool_name(t): t for t in allowed}
    intent_type = by_name.get(name)
    if intent_type is None:
        raise InvalidIntent(_compact(f"unknown tool {name!r}; use one of: {', '.join(by_name)}"))
    if not isinstance(input, dict):
        raise InvalidIntent(f"{name}: input must be a JSON object, got {type(input).__name__}")
    if named := sorted(GRAMMAR_ONLY.intersection(input)):
        raise InvalidIntent(_compact(f"{name}: unexpected field {named[0]!r}"))
    try:
        intent: Intent = intent_type.model_validate({**input, "intent": name})
    except ValidationError as exc:
        problems = "; ".join(_problem(e) for e in exc.errors()[:3])
        raise InvalidIntent(_compact(f"{name}: {problems}")) from None
    verdict = check_scope(intent, config)
    if isinstance(verdict, Refused):
        raise InvalidIntent(_compact(f"{name}: {verdict.reason}"))
    return intent
