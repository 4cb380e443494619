"""Slack payloads -> what they ask of the bot (pure functions, table-tested).

Each parser takes a payload as Bolt hands it over (parsed JSON or form fields) and returns
either what to do or a ``Skip`` saying why nothing is done. A payload missing a field it
needs is a ``Skip`` with ``malformed=True`` and the field's path, never an exception.
"""

import json
import re
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.core.reading.vocabulary import APPROVE_WORDS, REJECT_WORDS, ROLLBACK_WORDS
from bot.core.thread.origin import SlackOrigin
from bot.core.thread.text.actor import Actor, ActorError
from channels.slack.ids import (
    APPROVE_ACTION,
    REASON_BLOCK,
    REASON_INPUT,
    REJECT_ACTION,
    REJECT_VIEW,
    derived_event_id,
    parse_button_value,
    thread_id_for,
)

__all__ = [
    "Decision",
    "OpenRejectModal",
    "Request",
    "Skip",
    "SlashCommand",
    "action_request",
    "clean_text",
    "command_request",
    "event_request",
    "one_line",
    "view_request",
]

_MAX_REASON = 300
# A slash command starting with one of these is a command as said; else "deploy ..." is meant.
_COMMAND_WORDS = (
    APPROVE_WORDS
    | REJECT_WORDS
    | {phrase[0] for phrase in ROLLBACK_WORDS}
    | {"deploy", "ship", "deploys", "status", "help", "lock", "unlock", "where", "?"}
)
_ACCEPTED_SUBTYPES = {None, "thread_broadcast", "file_share"}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Request(_Frozen):
    """A person said something to the bot: one user message for one bot thread."""

    thread_id: str
    event_id: str
    actor: Actor
    text: str
    origin: SlackOrigin | None  # None: only continues a thread that exists (a click)
    in_thread: bool = False  # said in a Slack thread (which may belong to another bot thread)
    follow_up: bool = False  # a plain reply in a Slack thread: only if the bot follows it


class Decision(_Frozen):
    """A click on Approve or a submitted reject form: the plan it decides, as data."""

    thread_id: str
    event_id: str
    actor: Actor
    decision: Literal["approve", "reject"]
    plan_hash: str
    reason: str | None = None


class OpenRejectModal(_Frozen):
    thread_id: str
    plan_hash: str
    trigger_id: str
    user: str


class SlashCommand(_Frozen):
    event_id: str
    team: str
    channel: str
    user: str
    actor: Actor
    said: str  # as typed after the command
    text: str  # as the bot reads it: "deploy backend v1.4.2 to production"

    def request(self, root_ts: str) -> Request:
        """The request, once the command's root message is posted at ``root_ts``."""
        return Request(
            thread_id=thread_id_for(self.team, self.channel, root_ts),
            event_id=self.event_id,
            actor=self.actor,
            text=self.text,
            origin=SlackOrigin(channel=self.channel, thread_ts=root_ts),
        )


class Skip(_Frozen):
    reason: str
    malformed: bool = False
    kind: Literal["skip", "needs_reason"] = "skip"


def _get(body: Mapping[str, object], path: str) -> object:
    value: object = body
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _str(body: Mapping[str, object], path: str) -> str | None:
    value = _get(body, path)
    return value if isinstance(value, str) and value else None


def _missing(what: str, path: str) -> Skip:
    return Skip(reason=f"{what}: missing {path}", malformed=True)


def _actor(what: str, user: str) -> Actor | Skip:
    """The Slack user as an actor, parsed here once; a user id that is none is malformed."""
    try:
        return Actor.of("slack", user)
    except ActorError as exc:
        return Skip(reason=f"{what}: user {exc}", malformed=True)


def clean_text(text: str, *, bot_user_id: str | None) -> str:
    """The words as the bot reads them: no leading mention of the bot, entities decoded."""
    text = text.strip()
    if bot_user_id:
        text = re.sub(rf"^<@{re.escape(bot_user_id)}(?:\|[^>]*)?>[:,]?\s*", "", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()


def one_line(text: str, limit: int = _MAX_REASON) -> str:
    """Free text (a reason) as one printable line, at most ``limit`` characters."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat[:limit].rstrip()


def event_request(body: Mapping[str, object], *, bot_user_id: str | None) -> Request | Skip:
    """An Events API callback (``app_mention`` or ``message``)."""
    event_id = _str(body, "event_id")
    if event_id is None:
        return _missing("event", "event_id")
    what = f"event {event_id}"
    event = _get(body, "event")
    if not isinstance(event, Mapping):
        return _missing(what, "event")
    etype, subtype = event.get("type"), event.get("subtype")
    if etype not in ("app_mention", "message"):
        return Skip(reason=f"{what}: {etype} events are not handled")
    user = _str(event, "user")
    if event.get("bot_id") or subtype == "bot_message" or (bot_user_id and user == bot_user_id):
        return Skip(reason=f"{what}: from a bot")
    if subtype not in _ACCEPTED_SUBTYPES:
        return Skip(reason=f"{what}: message subtype {subtype} is not a request")
    channel, ts = _str(event, "channel"), _str(event, "ts")
    if user is None:
        return _missing(what, "event.user")
    if channel is None:
        return _missing(what, "event.channel")
    if ts is None:
        return _missing(what, "event.ts")
    if isinstance(actor := _actor(what, user), Skip):
        return actor
    raw = event.get("text")
    raw = raw if isinstance(raw, str) else ""
    thread_ts = _str(event, "thread_ts")
    follow_up = False
    if etype == "message" and event.get("channel_type") != "im":
        if bot_user_id and f"<@{bot_user_id}" in raw:
            return Skip(reason=f"{what}: mentions the bot (handled as app_mention)")
        if thread_ts is None:
            return Skip(reason=f"{what}: a channel message not addressed to the bot")
        follow_up = True
    text = clean_text(raw, bot_user_id=bot_user_id)
    if not text:
        if etype != "app_mention":
            return Skip(reason=f"{what}: no text")
        text = "help"  # a bare mention: say what the bot can do
    team = _str(body, "team_id") or _str(event, "team") or ""
    root = thread_ts or ts
    return Request(
        thread_id=thread_id_for(team, channel, root),
        event_id=event_id,
        actor=actor,
        text=text,
        origin=SlackOrigin(channel=channel, thread_ts=root),
        in_thread=thread_ts is not None,
        follow_up=follow_up,
    )


def action_request(body: Mapping[str, object]) -> Decision | OpenRejectModal | Skip:
    """A ``block_actions`` payload: a click on Approve or Reject."""
    user = _str(body, "user.id")
    if user is None:
        return _missing("block_actions", "user.id")
    if isinstance(actor := _actor("block_actions", user), Skip):
        return actor
    actions = _get(body, "actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], Mapping):
        return _missing("block_actions", "actions[0]")
    action = actions[0]
    action_id = _str(action, "action_id")
    if action_id not in (APPROVE_ACTION, REJECT_ACTION):
        return Skip(reason=f"block_actions: action {action_id} is not ours")
    value = _str(action, "value")
    decided = parse_button_value(value) if value else None
    if decided is None:
        return Skip(reason=f"block_actions: bad button value {value!r}", malformed=True)
    thread_id, plan_hash = decided
    if action_id == REJECT_ACTION:
        trigger_id = _str(body, "trigger_id")
        if trigger_id is None:
            return _missing("block_actions", "trigger_id")
        return OpenRejectModal(
            thread_id=thread_id, plan_hash=plan_hash, trigger_id=trigger_id, user=user
        )
    action_ts = _str(action, "action_ts")
    if action_ts is None:
        return _missing("block_actions", "actions[0].action_ts")
    message_ts = _str(body, "container.message_ts") or _str(body, "message.ts") or ""
    return Decision(
        thread_id=thread_id,
        event_id=derived_event_id("click", user, action_id, action_ts, message_ts),
        actor=actor,
        decision="approve",
        plan_hash=plan_hash,
    )


def view_request(body: Mapping[str, object]) -> Decision | Skip:
    """A ``view_submission`` of the reject-reason modal."""
    user, view_id = _str(body, "user.id"), _str(body, "view.id")
    if user is None or view_id is None:
        return _missing("view_submission", "user.id" if user is None else "view.id")
    if isinstance(actor := _actor("view_submission", user), Skip):
        return actor
    if _str(body, "view.callback_id") != REJECT_VIEW:
        return Skip(reason=f"view_submission: view {_str(body, 'view.callback_id')} is not ours")
    try:
        meta = json.loads(_str(body, "view.private_metadata") or "")
        decided = parse_button_value(f"{meta['t']}:{meta['p']}")
    except (ValueError, KeyError, TypeError):
        decided = None
    if decided is None:
        return Skip(reason="view_submission: bad private_metadata", malformed=True)
    thread_id, plan_hash = decided
    typed = _str(body, f"view.state.values.{REASON_BLOCK}.{REASON_INPUT}.value") or ""
    reason = one_line(typed)
    if not reason:
        return Skip(reason="a reason is needed to reject", kind="needs_reason")
    return Decision(
        thread_id=thread_id,
        event_id=derived_event_id("view", user, view_id),
        actor=actor,
        decision="reject",
        plan_hash=plan_hash,
        reason=reason,
    )


def command_request(body: Mapping[str, object]) -> SlashCommand | Skip:
    """A slash command (``/deploy backend v1.4.2 to production``)."""
    fields = {}
    for name in ("user_id", "channel_id", "trigger_id"):
        value = _str(body, name)
        if value is None:
            return _missing("slash command", name)
        fields[name] = value
    if isinstance(actor := _actor("slash command", fields["user_id"]), Skip):
        return actor
    said = one_line(_str(body, "text") or "", limit=400)
    first = said.split()[0].lower() if said else ""
    text = said if not said or first in _COMMAND_WORDS else f"deploy {said}"
    return SlashCommand(
        event_id=derived_event_id("command", fields["trigger_id"]),
        team=_str(body, "team_id") or "",
        channel=fields["channel_id"],
        user=fields["user_id"],
        actor=actor,
        said=said,
        text=text,
    )
