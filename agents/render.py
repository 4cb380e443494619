"""The context the model sees: our own compact rendering of a thread (factor 3).

One user-message string, XML-tagged sections in a fixed order::

    <config>      services with their environments; environments with approval yes/no
    <tags ...>    per service, from the newest tags_listed: newest tags first, at most 10
    <deploys ...> per service and environment, from the newest history_listed
    <thread>      one line per event: "[time] what happened"
    <errors>      only errors not yet resolved by a later successful step
    <now>         the current time, UTC

Pure and deterministic (golden-tested). Text that came from outside (messages, tag
subjects, deploy output, error messages) has ``<`` escaped so it cannot open or close a
section, and the whole prompt goes through ``bot.redact.redact`` last, so secrets never
reach the model. People are shown by their ``[people]`` name when the config knows them;
approver channel identities (Slack ids, email addresses) are never shown.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

from bot.config import Config
from bot.events import (
    ApprovalDecided,
    ApprovalRefused,
    ApprovalRequested,
    CronFired,
    DeployFinished,
    DeployInterrupted,
    DeployStarted,
    ErrorRecorded,
    Event,
    HistoryListed,
    IntentChosen,
    LockChanged,
    MessageSent,
    PlanProposed,
    TagsListed,
    UserMessage,
    WebhookReceived,
)
from bot.history import current_version
from bot.intents import AskHuman, Done
from bot.redact import compact_tail, redact
from bot.thread import Thread

__all__ = ["MAX_DEPLOYS", "MAX_TAGS", "thread_to_prompt", "unresolved_errors"]

MAX_TAGS = 10
MAX_DEPLOYS = 5
_MAX_TEXT_CHARS = 2000
_MAX_SUBJECT_CHARS = 80


def thread_to_prompt(
    thread: Thread, *, config: Config, now: datetime, secrets: Sequence[str] = ()
) -> str:
    """Render ``thread`` as the one user message the model reads; secrets are masked."""
    tags = _latest_tags(thread.events)
    deploys = _latest_history(thread.events)
    shown = {e.id for e in tags} | {e.id for e in deploys}
    sections = [
        _config_section(config),
        *(_tags_section(event) for event in tags),
        *(_deploys_section(event, config) for event in deploys),
        _thread_section(thread, config=config, now=now, shown=shown),
        _errors_section(thread.events, now=now),
        f"<now>{_utc(now):%Y-%m-%d %H:%M} UTC</now>",
    ]
    return redact("\n\n".join(s for s in sections if s) + "\n", secrets=secrets)


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


# -- sections ---------------------------------------------------------------------------


def _config_section(config: Config) -> str:
    lines = ["<config>"]
    for name, service in config.services.items():
        lines.append(f"service {name}: environments {', '.join(service.environments)}")
    for name, environment in config.environments.items():
        lines.append(f"environment {name}: approval {'yes' if environment.approval else 'no'}")
    lines.append("</config>")
    return "\n".join(lines)


def _tags_section(event: TagsListed) -> str:
    lines = [f'<tags service="{event.service}">']
    for tag in event.tags[:MAX_TAGS]:
        subject = f" {_clip(_safe(tag.subject), _MAX_SUBJECT_CHARS)}" if tag.subject else ""
        lines.append(f"{_safe(tag.name)} {tag.sha[:7]}{subject}")
    if not event.tags:
        lines.append("(no tags)")
    elif len(event.tags) > MAX_TAGS:
        lines.append(f"(+{len(event.tags) - MAX_TAGS} older tags not shown)")
    lines.append("</tags>")
    return "\n".join(lines)


def _deploys_section(event: HistoryListed, config: Config) -> str:
    lines = [f'<deploys service="{event.service}" environment="{event.environment}">']
    current = current_version(event.deploys)
    marked = False
    for record in event.deploys[:MAX_DEPLOYS]:
        kind = " (rollback)" if record.kind == "rollback" else ""
        live = ""
        if not marked and record.result == "succeeded" and record.version == current:
            live, marked = " (live now)", True
        lines.append(
            f"{_record_time(record.at)} {_safe(record.version)} {record.sha[:7]}{kind} "
            f"{record.result}, by {_who(record.requester, config)}{live}"
        )
    if not event.deploys:
        lines.append("(no deploys yet)")
    elif len(event.deploys) > MAX_DEPLOYS:
        lines.append(f"(+{len(event.deploys) - MAX_DEPLOYS} older deploys not shown)")
    lines.append("</deploys>")
    return "\n".join(lines)


def _thread_section(thread: Thread, *, config: Config, now: datetime, shown: set[str]) -> str:
    lines = ["<thread>"]
    previous: Event | None = None
    for event in thread.events:
        text = _event_text(
            event, thread=thread, config=config, now=now, shown=shown, previous=previous
        )
        if text is not None:
            lines.append(f"[{_when(event.at, now)}] {text}")
        previous = event
    lines.append("</thread>")
    return "\n".join(lines)


def _errors_section(events: Sequence[Event], *, now: datetime) -> str:
    errors = unresolved_errors(events)
    if not errors:
        return ""
    lines = ["<errors>"]
    lines += [f"[{_when(e.at, now)}] {e.kind}: {_line(e.message)}" for e in errors]
    lines.append("</errors>")
    return "\n".join(lines)


# -- one event, one line ----------------------------------------------------------------


def _event_text(
    event: Event,
    *,
    thread: Thread,
    config: Config,
    now: datetime,
    shown: set[str],
    previous: Event | None,
) -> str | None:
    match event:
        case UserMessage(actor=actor, text=text):
            return f"{_who(actor, config)}: {_line(text)}"
        case CronFired(schedule=name, instruction=instruction):
            return f"schedule {name} fired: {_line(instruction)}"
        case WebhookReceived(name=name, instruction=instruction):
            return f"webhook {name} fired: {_line(instruction)}"
        case TagsListed(service=service, tags=tags):
            where = f'see <tags service="{service}">' if event.id in shown else "superseded"
            return f"listed {len(tags)} tags of {service} ({where})"
        case HistoryListed(service=service, environment=environment, deploys=deploys):
            where = "see <deploys>" if event.id in shown else "superseded"
            return f"listed {len(deploys)} deploys of {service} in {environment} ({where})"
        case IntentChosen(intent=intent, source=source):
            fields = intent.model_dump(exclude={"intent"}, exclude_none=True)
            args = " ".join(
                f'{k}="{_line(v)}"' if k == "message" else f"{k}={_safe(str(v))}"
                for k, v in fields.items()
            )
            via = {"grammar": " (exact command)", "model": "", "system": " (by the bot)"}[source]
            return f"chose {intent.intent} {args}{via}"
        case PlanProposed(plan=plan):
            requester = _who(plan.requester, config)
            return f"plan #{plan.short_id}: {_safe(plan.describe())}, asked by {requester}"
        case ApprovalRequested(plan_hash=plan_hash, approvers=approvers, min_approvals=n):
            return (
                f"approval requested for plan #{plan_hash[:4]}: {n} of {', '.join(approvers)}, "
                f"expires {_when(event.expires_at, now)}"
            )
        case ApprovalDecided(plan_hash=plan_hash, person=person, decision=decision):
            reason = f": {_line(event.reason)}" if event.reason else ""
            verb = "approved" if decision == "approve" else "rejected"
            return f"{person} {verb} plan #{plan_hash[:4]}{reason}"
        case ApprovalRefused(actor=actor, reason=reason):
            return f"approval by {_who(actor, config)} refused: {_line(reason)}"
        case DeployStarted(plan_hash=plan_hash):
            return f"{_kind(thread, plan_hash)} of plan #{plan_hash[:4]} started"
        case DeployFinished(plan_hash=plan_hash, result=result, exit_code=code):
            exit_text = f"exit {code}, " if code is not None else ""
            tail = compact_tail(event.output_tail, max_lines=3, max_chars=300)
            output = f"; output: {_line(tail.replace(chr(10), ' | '))}" if tail else ""
            return (
                f"{_kind(thread, plan_hash)} of plan #{plan_hash[:4]} {result.replace('_', ' ')} "
                f"({exit_text}{event.duration_s:.0f}s){output}"
            )
        case DeployInterrupted(plan_hash=plan_hash):
            return (
                f"{_kind(thread, plan_hash)} of plan #{plan_hash[:4]} interrupted: outcome "
                "unknown (its worker stopped before recording a result)"
            )
        case MessageSent(text=text, purpose=purpose):
            if purpose == "approval_request" or _repeats_intent(text, previous):
                return None  # the approval_requested / chose line already says it
            label = "" if purpose == "info" else f" ({purpose})"
            return f"bot{label}: {_line(text)}"
        case ErrorRecorded() | LockChanged():
            return None  # errors: in <errors> while unresolved; locks: bookkeeping
    return None


def _repeats_intent(text: str, previous: Event | None) -> bool:
    return (
        isinstance(previous, IntentChosen)
        and isinstance(previous.intent, AskHuman | Done)
        and previous.intent.message.strip() == text.strip()
    )


# -- small helpers ----------------------------------------------------------------------


def _latest_tags(events: Sequence[Event]) -> list[TagsListed]:
    """The newest tags_listed per service, by service name."""
    latest = {e.service: e for e in events if isinstance(e, TagsListed)}
    return [latest[key] for key in sorted(latest)]


def _latest_history(events: Sequence[Event]) -> list[HistoryListed]:
    """The newest history_listed per service and environment, by service and environment."""
    latest = {(e.service, e.environment): e for e in events if isinstance(e, HistoryListed)}
    return [latest[key] for key in sorted(latest)]


def _kind(thread: Thread, plan_hash: str) -> str:
    plan = thread.plan(plan_hash)
    return plan.kind if plan is not None else "deploy"


def _who(actor: str, config: Config) -> str:
    """The [people] name behind a channel identity, else the identity as given."""
    if ":" not in actor:
        return _safe(actor)
    return config.person_for(actor) or _safe(actor)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _when(moment: datetime, now: datetime) -> str:
    """``HH:MM`` on the day of ``now`` (UTC), else ``YYYY-MM-DD HH:MM``."""
    moment = _utc(moment)
    if moment.date() == _utc(now).date():
        return f"{moment:%H:%M}"
    return f"{moment:%Y-%m-%d %H:%M}"


def _record_time(at: str) -> str:
    try:
        return f"{_utc(datetime.fromisoformat(at)):%Y-%m-%d %H:%M}"
    except ValueError:
        return _safe(at)


def _safe(text: str) -> str:
    """Outside text cannot open or close a section."""
    return text.replace("<", "&lt;")


def _clip(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def _line(text: str) -> str:
    """Outside text on one line: whitespace collapsed, escaped, at most 2000 characters."""
    return _clip(_safe(" ".join(text.split())), _MAX_TEXT_CHARS)
