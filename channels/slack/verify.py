"""What ``POST /slack/events`` checks before anything reads a payload (pure, table-tested).

1. ``verify_signature``: Slack's v0 scheme. ``X-Slack-Signature`` must be ``v0=`` + the
   HMAC-SHA256 of ``v0:{timestamp}:{raw body}`` under the signing secret, and
   ``X-Slack-Request-Timestamp`` a number within five minutes of now. An empty secret
   verifies nothing (it is a configuration error, refused before the app is built).
2. ``screen_payload``: the body is the shape Slack sends (a JSON object with a string
   ``type``; a form whose ``payload`` is such an object; a slash command's form), with the
   fields Bolt reads before our listeners run having the types Slack gives them. Anything
   else is refused with a 4xx and the reason, never handed to Bolt (which answered 500).
   JSON is measured before it is parsed (``bot.core.reading.json_shape``): nested deeper than
   ``MAX_JSON_DEPTH`` (a thousand ``[`` made ``json`` raise ``RecursionError``) is a 400.
"""

import hashlib
import hmac
import json
import urllib.parse
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

from bot.core.reading.json_shape import check_json_depth
from bot.core.thread.set_aside import SetAsideReason

__all__ = [
    "MAX_AGE_S",
    "Malformed",
    "Screened",
    "Unverified",
    "Verified",
    "screen_payload",
    "verify_signature",
]

MAX_AGE_S = 300  # Slack's own limit for a request's timestamp


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Verified(_Frozen):
    pass


class Unverified(_Frozen):
    reason: str


class Screened(_Frozen):
    kind: str  # "json", "interactive" or "command"


class Malformed(_Frozen):
    status_code: int = 400
    reason: str
    kind: SetAsideReason = "malformed"  # the set-aside reason it is counted under


def verify_signature(
    *,
    secret: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    now_s: float,
    max_age_s: int = MAX_AGE_S,
) -> Verified | Unverified:
    if not secret:
        return Unverified(reason="no signing secret is configured")
    if not timestamp or not signature:
        return Unverified(reason="X-Slack-Request-Timestamp or X-Slack-Signature is missing")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return Unverified(reason="X-Slack-Request-Timestamp is not a number")
    if abs(now_s - int(timestamp)) > max_age_s:
        return Unverified(reason=f"the timestamp is more than {max_age_s} s from now")
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        return Unverified(reason="the signature does not match")
    return Verified()


# Fields Bolt reads itself (to route, authorize, ignore its own events) before a listener
# sees the payload: dotted path -> the JSON types Slack sends there.
_STR = (str,)
_OBJECT = (dict,)
_EVENT_FIELDS: dict[str, tuple[type, ...]] = {
    "team_id": _STR,
    "enterprise_id": _STR,
    "event_id": _STR,
    "api_app_id": _STR,
    "authorizations": (list,),
    "event": _OBJECT,
    "event.type": _STR,
    "event.subtype": _STR,
    "event.user": _STR,
    "event.bot_id": _STR,
    "event.channel": _STR,
    "event.team": _STR,
    "event.text": _STR,
    "event.ts": _STR,
    "event.thread_ts": _STR,
    "event.channel_type": _STR,
}
_INTERACTIVE_FIELDS: dict[str, tuple[type, ...]] = {
    "team": _OBJECT,
    "team.id": _STR,
    "enterprise": _OBJECT,
    "user": _OBJECT,
    "user.id": _STR,
    "user.team_id": _STR,
    "channel": _OBJECT,
    "channel.id": _STR,
    "container": _OBJECT,
    "message": _OBJECT,
    "actions": (list,),
    "view": _OBJECT,
    "view.callback_id": _STR,
    "view.private_metadata": _STR,
    "view.state": _OBJECT,
    "callback_id": _STR,
    "trigger_id": _STR,
    "response_url": _STR,
    "api_app_id": _STR,
}
_COMMAND_FIELDS = ("command", "user_id", "channel_id", "trigger_id")
_PAYLOAD_TYPES = {"block_actions", "view_submission", "view_closed", "shortcut",
                  "message_action", "block_suggestion"}  # fmt: skip


def _get(body: Mapping[str, object], path: str) -> object:
    value: object = body
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _wrong_fields(body: Mapping[str, object], fields: Mapping[str, tuple[type, ...]]) -> str | None:
    for path, types in fields.items():
        value = _get(body, path)
        if value is not None and not isinstance(value, types):
            return f"{path} is a {type(value).__name__}"
    return None


def _object(text: str, what: str) -> dict[str, object] | Malformed:
    too_deep = check_json_depth(text)
    if too_deep is not None:
        return Malformed(reason=f"{what}: {too_deep.reason}", kind="too_deep")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return Malformed(reason=f"{what} is not JSON")
    if not isinstance(value, dict):
        return Malformed(reason=f"{what} is a JSON {type(value).__name__}, not an object")
    return value


def _screen_json(text: str) -> Screened | Malformed:
    body = _object(text, "the body")
    if isinstance(body, Malformed):
        return body
    kind = body.get("type")
    if not isinstance(kind, str) or not kind:
        return Malformed(reason="the body has no string 'type'")
    if kind == "url_verification":
        challenge = body.get("challenge")
        if not isinstance(challenge, str) or not challenge:
            return Malformed(reason="url_verification without a challenge")
        return Screened(kind="json")
    if kind != "event_callback":
        return Malformed(reason=f"'type' {kind[:40]!r} is not an Events API callback")
    if not isinstance(body.get("event"), dict):
        return Malformed(reason="event_callback without an 'event' object")
    if not isinstance(body.get("event_id"), str):
        return Malformed(reason="event_callback without a string 'event_id'")
    wrong = _wrong_fields(body, _EVENT_FIELDS)
    if wrong is not None:
        return Malformed(reason=wrong)
    auths = body.get("authorizations")
    if isinstance(auths, list) and not all(isinstance(a, dict) for a in auths):
        return Malformed(reason="authorizations is not a list of objects")
    return Screened(kind="json")


def _screen_form(text: str) -> Screened | Malformed:
    try:
        form = urllib.parse.parse_qs(text, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return Malformed(reason="the form is not URL-encoded")
    if any(len(values) != 1 for values in form.values()):
        return Malformed(reason="a form field is repeated")
    fields = {name: values[0] for name, values in form.items()}
    if "payload" in fields:
        payload = _object(fields["payload"], "the form's payload")
        if isinstance(payload, Malformed):
            return payload
        kind = payload.get("type")
        if not isinstance(kind, str) or kind not in _PAYLOAD_TYPES:
            return Malformed(reason="the payload's 'type' is not an interactive payload")
        wrong = _wrong_fields(payload, _INTERACTIVE_FIELDS)
        if wrong is not None:
            return Malformed(reason=wrong)
        actions = payload.get("actions")
        if isinstance(actions, list) and not all(isinstance(a, dict) for a in actions):
            return Malformed(reason="actions is not a list of objects")
        return Screened(kind="interactive")
    if "ssl_check" in fields:
        return Malformed(reason="ssl_check is not used (the app is not on Slack's Marketplace)")
    missing = [name for name in _COMMAND_FIELDS if not fields.get(name)]
    if missing:
        return Malformed(reason=f"a form without 'payload' nor command fields ({missing[0]})")
    return Screened(kind="command")


def screen_payload(body: bytes, *, content_type: str | None) -> Screened | Malformed:
    """Whether a (verified) body is a payload Slack sends, before Bolt parses it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return Malformed(reason="the body is not UTF-8")
    media = (content_type or "").split(";")[0].strip().lower()
    if media == "application/json":
        return _screen_json(text)
    if media == "application/x-www-form-urlencoded":
        return _screen_form(text)
    return Malformed(status_code=415, reason=f"unsupported content type {media[:60]!r}")
