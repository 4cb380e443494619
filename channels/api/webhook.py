"""Signed webhooks: the config maps a name to an instruction with ``{field}`` placeholders.

Placeholders are filled from the JSON body's top-level fields. A value must be one word of
letters, digits and ``._+/-`` (a string, or an integer), so a payload can name a version but
never add words to the instruction (``v1; rm -rf /`` or ``v1 to production`` are refused).
"""

import hashlib
import re

from pydantic import JsonValue

__all__ = ["InstructionError", "delivery_thread_id", "fill_instruction", "placeholders"]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]{0,63})\}")
_VALUE = re.compile(r"[A-Za-z0-9._+/-]{1,100}")


class InstructionError(ValueError):
    """The body cannot fill the instruction; the message names the field."""


def placeholders(template: str) -> list[str]:
    """The field names a template uses, in order, each once."""
    return list(dict.fromkeys(_PLACEHOLDER.findall(template)))


def _word(name: str, value: JsonValue) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InstructionError(f"{name}: must be a string or an integer")
    text = str(value)
    if not _VALUE.fullmatch(text):
        raise InstructionError(
            f"{name}: must be 1-100 letters, digits or ._+/- (one word, no spaces)"
        )
    return text


def fill_instruction(template: str, fields: dict[str, JsonValue]) -> str:
    """The instruction with every ``{field}`` replaced; fields it does not use are ignored."""
    missing = [name for name in placeholders(template) if name not in fields]
    if missing:
        raise InstructionError(
            "missing field" + ("s " if len(missing) > 1 else " ") + ", ".join(missing)
        )
    words = {name: _word(name, fields[name]) for name in placeholders(template)}
    return _PLACEHOLDER.sub(lambda m: words[m.group(1)], template)


def delivery_thread_id(name: str, body: bytes) -> str:
    """The thread a delivery starts: the same signed body to the same webhook always names
    the same thread, so a replayed or retried delivery never starts a second one."""
    digest = hashlib.sha256(name.encode() + b"\n" + body).hexdigest()
    return f"wh-{digest[:24]}"
