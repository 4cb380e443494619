"""The context the model sees: our own compact rendering of a thread (factor 3).

One user-message string, XML-tagged sections in a fixed order::

    <config>      services with their environments; environments with approval yes/no
    <tags ...>    per service, from the newest tags_listed: newest tags first, at most 10
    <deploys ...> per service and environment, from the newest history_listed
    <thread>      one line per event: "[time] what happened"
    <errors>      only errors not yet resolved by a later successful step
    <now>         the current time, UTC

Pure and deterministic (golden-tested). Text that came from outside (messages, tag
subjects, deploy output, error messages) is made inert and redacted before it is shortened,
and has ``<`` escaped so it cannot open or close a section; the whole prompt is made inert
(``bot.core.thread.text.outside``) and goes through ``bot.core.wording.redact.redact`` once more at
the end, so neither a hidden control nor a secret reaches the model. People are
shown by their ``[people]`` name when the config knows them; approvers' channel identities
(Slack ids, email addresses) are never shown.

This module picks what goes in and lays out the sections; ``agents.event_lines`` writes each
event's ``<thread>`` line and owns the text rules above, which the sections share.
"""

from collections.abc import Sequence
from datetime import datetime

from agents.event_lines import LineRenderer, utc
from bot.core.config.config import Config
from bot.core.policy.deploys import current_version
from bot.core.thread.events import (
    ErrorRecorded,
    Event,
    HistoryListed,
    IntentChosen,
    LockChanged,
    MessageSent,
    TagsListed,
)
from bot.core.thread.text.outside import inert
from bot.core.thread.thread import Thread
from bot.core.wording.redact import redact

__all__ = ["MAX_DEPLOYS", "MAX_TAGS", "thread_to_prompt", "unresolved_errors"]

MAX_TAGS = 10
MAX_DEPLOYS = 5
_MAX_SUBJECT_CHARS = 80


def thread_to_prompt(
    thread: Thread, *, config: Config, now: datetime, secrets: Sequence[str] = ()
) -> str:
    """Render ``thread`` as the one user message the model reads; secrets are masked."""
    tags = _latest_tags(thread.events)
    deploys = _latest_history(thread.events)
    shown = frozenset(e.id for e in [*tags, *deploys])
    r = _Renderer(thread=thread, config=config, now=now, secrets=tuple(secrets), shown=shown)
    sections = [
        r.config_section(),
        *(r.tags_section(event) for event in tags),
        *(r.deploys_section(event) for event in deploys),
        r.thread_section(),
        r.errors_section(),
        f"<now>{utc(now):%Y-%m-%d %H:%M} UTC</now>",
    ]
    prompt = inert("\n\n".join(s for s in sections if s) + "\n", multiline=True)
    return redact(prompt, secrets=secrets)


def unresolved_errors(events: Sequence[Event]) -> list[ErrorRecorded]:
    """The errors after the last intent that went through.

    An intent went through unless the next event after it (not counting messages and lock
    bookkeeping) is an error: a deploy that hit a lock, say, resolved nothing, so the errors
    before it stay. Errors before an intent that went through were resolved by it (the model
    got past them) and are dropped.
    """
    resolved_at = -1
    for index, event in enumerate(events):
        if isinstance(event, IntentChosen) and not _failed(events, index):
            resolved_at = index
    return [e for e in events[resolved_at + 1 :] if isinstance(e, ErrorRecorded)]


def _failed(events: Sequence[Event], index: int) -> bool:
    for event in events[index + 1 :]:
        if not isinstance(event, MessageSent | LockChanged):
            return isinstance(event, ErrorRecorded)
    return False


class _Renderer(LineRenderer):
    """The sections, written with the same line pieces as the ``<thread>`` lines."""

    def config_section(self) -> str:
        lines = ["<config>"]
        for name, service in self.config.services.items():
            lines.append(f"service {name}: environments {', '.join(service.environments)}")
        for name, env in self.config.environments.items():
            lines.append(f"environment {name}: approval {'yes' if env.approval else 'no'}")
        return "\n".join([*lines, "</config>"])

    def tags_section(self, event: TagsListed) -> str:
        lines = [f'<tags service="{event.service}">']
        for tag in event.tags[:MAX_TAGS]:
            subject = f" {self.line(tag.subject, _MAX_SUBJECT_CHARS)}" if tag.subject else ""
            lines.append(f"{self.line(tag.name)} {tag.sha[:7]}{subject}")
        if not event.tags:
            lines.append("(no tags)")
        elif len(event.tags) > MAX_TAGS:
            lines.append(f"(+{len(event.tags) - MAX_TAGS} older tags not shown)")
        return "\n".join([*lines, "</tags>"])

    def deploys_section(self, event: HistoryListed) -> str:
        lines = [f'<deploys service="{event.service}" environment="{event.environment}">']
        live = current_version(event.deploys)
        for record in event.deploys[:MAX_DEPLOYS]:
            kind = " (rollback)" if record.kind == "rollback" else ""
            mark = ""
            if live is not None and record.result == "succeeded" and record.version == live:
                mark, live = " (live now)", None
            lines.append(
                f"{self.record_time(record.at)} {self.line(record.version)} {record.sha[:7]}"
                f"{kind} {record.result}, by {self.who(record.requester)}{mark}"
            )
        if not event.deploys:
            lines.append("(no deploys yet)")
        elif len(event.deploys) > MAX_DEPLOYS:
            lines.append(f"(+{len(event.deploys) - MAX_DEPLOYS} older deploys not shown)")
        return "\n".join([*lines, "</deploys>"])

    def thread_section(self) -> str:
        lines = ["<thread>"]
        previous: Event | None = None
        for event in self.thread.events:
            text = self.event_text(event, previous=previous)
            if text is not None:
                lines.append(f"[{self.when(event.at)}] {text}")
            previous = event
        return "\n".join([*lines, "</thread>"])

    def errors_section(self) -> str:
        errors = unresolved_errors(self.thread.events)
        if not errors:
            return ""
        lines = [f"[{self.when(e.at)}] {e.kind}: {self.line(e.message)}" for e in errors]
        return "\n".join(["<errors>", *lines, "</errors>"])


def _latest_tags(events: Sequence[Event]) -> list[TagsListed]:
    """The newest tags_listed per service, by service name."""
    latest = {e.service: e for e in events if isinstance(e, TagsListed)}
    return [latest[key] for key in sorted(latest)]


def _latest_history(events: Sequence[Event]) -> list[HistoryListed]:
    """The newest history_listed per service and environment, in name order."""
    latest = {(e.service, e.environment): e for e in events if isinstance(e, HistoryListed)}
    return [latest[key] for key in sorted(latest)]
