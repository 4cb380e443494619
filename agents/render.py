"""The context the model sees: our own compact rendering of a thread (factor 3).

One user-message string, XML-tagged sections in a fixed order::

    <config>      services with their environments; environments with approval yes/no
    <tags ...>    per service, from the newest tags_listed: newest tags first, at most 10
    <deploys ...> per service and environment, from the newest history_listed
    <thread>      one line per event: "[time] what happened"
    <errors>      only errors not yet resolved by a later successful step
    <now>         the current time, UTC

Pure and deterministic (golden-tested). Text that came from outside (messages, tag
subjects, deploy output, error messages) is redacted before it is shortened, and has ``<``
escaped so it cannot open or close a section; the whole prompt goes through
``bot.core.redact.redact`` once more at the end, so secrets never reach the model. People are
shown by their ``[people]`` name when the config knows them; approvers' channel identities
(Slack ids, email addresses) are never shown.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.core.config import Config
from bot.core.deploys import current_version
from bot.core.events import (
    ApprovalDecided,
    ApprovalEscalated,
    ApprovalRefused,
    ApprovalRequested,
    CronFired,
    DecisionReceived,
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
    PlanSuperseded,
    TagsListed,
    UserMessage,
    VerificationFinished,
    VersionQuarantined,
    VersionReleased,
    WebhookReceived,
)
from bot.core.intents import AskHuman, Done
from bot.core.redact import compact_tail, redact
from bot.core.thread import Thread

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
    shown = frozenset(e.id for e in [*tags, *deploys])
    r = _Renderer(thread=thread, config=config, now=now, secrets=tuple(secrets), shown=shown)
    sections = [
        r.config_section(),
        *(r.tags_section(event) for event in tags),
        *(r.deploys_section(event) for event in deploys),
        r.thread_section(),
        r.errors_section(),
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


@dataclass(frozen=True, kw_only=True)
class _Renderer:
    thread: Thread
    config: Config
    now: datetime
    secrets: tuple[str, ...]
    shown: frozenset[str]  # ids of the lookups rendered in <tags> / <deploys>

    # -- sections ---------------------------------------------------------------------

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

    # -- one event, one line ----------------------------------------------------------

    def event_text(self, event: Event, *, previous: Event | None) -> str | None:
        match event:
            case UserMessage(actor=actor, text=text):
                return f"{self.who(actor)}: {self.line(text)}"
            case CronFired(schedule=name, instruction=instruction):
                return f"schedule {name} fired: {self.line(instruction)}"
            case WebhookReceived(name=name, instruction=instruction):
                return f"webhook {name} fired: {self.line(instruction)}"
            case TagsListed(service=service, tags=tags):
                where = (
                    f'see <tags service="{service}">' if event.id in self.shown else "superseded"
                )
                return f"listed {len(tags)} tags of {service} ({where})"
            case HistoryListed(service=service, environment=environment, deploys=deploys):
                where = "see <deploys>" if event.id in self.shown else "superseded"
                return f"listed {len(deploys)} deploys of {service} in {environment} ({where})"
            case IntentChosen(intent=intent, source=source):
                fields = intent.model_dump(exclude={"intent"}, exclude_none=True)
                args = "".join(
                    f' {k}="{self.line(v)}"' if k == "message" else f" {k}={self.line(str(v))}"
                    for k, v in fields.items()
                )
                via = {"grammar": " (exact command)", "model": "", "system": " (by the bot)"}
                return f"chose {intent.intent}{args}{via[source]}"
            case PlanProposed(plan=plan):
                return (
                    f"plan #{plan.short_id}: {self.line(plan.describe())}, "
                    f"asked by {self.who(plan.requester)}"
                )
            case ApprovalRequested(plan_hash=plan_hash, approvers=approvers, min_approvals=n):
                return (
                    f"approval of plan #{plan_hash[:4]} requested: {n} needed from "
                    f"{', '.join(approvers)}, expires {self.when(event.expires_at)}"
                )
            case DecisionReceived(actor=actor, plan_hash=plan_hash, decision=decision):
                reason = f": {self.line(event.reason)}" if event.reason else ""
                return f"{self.who(actor)}: {decision} plan #{plan_hash[:4]}{reason}"
            case ApprovalDecided(plan_hash=plan_hash, person=person, decision=decision):
                reason = f": {self.line(event.reason)}" if event.reason else ""
                verb = "approved" if decision == "approve" else "rejected"
                return f"{person} {verb} plan #{plan_hash[:4]}{reason}"
            case ApprovalEscalated(plan_hash=plan_hash, to=to, approvers=approvers):
                where = f" to {to}" if to else ""
                also = f", also from {', '.join(approvers)}" if approvers else ""
                return f"approval of plan #{plan_hash[:4]} escalated{where}{also}"
            case VerificationFinished(plan_hash=plan_hash, result=result):
                return (
                    f"verification of plan #{plan_hash[:4]}: {result}: {self.line(event.summary)}"
                )
            case VersionQuarantined(service=service, environment=env, version=version, by=by):
                return (
                    f"{service} {version} quarantined in {env} by {by}: {self.line(event.reason)}"
                )
            case VersionReleased(service=service, environment=env, version=version):
                return (
                    f"{service} {version} released in {env} by {event.person}: "
                    f"{self.line(event.reason)}"
                )
            case PlanSuperseded(plan_hash=plan_hash, by=by):
                return f"plan #{plan_hash[:4]} superseded: {self.line(by)}"
            case ApprovalRefused(actor=actor, reason=reason):
                return f"approval by {self.who(actor)} refused: {self.line(reason)}"
            case DeployStarted(plan_hash=plan_hash):
                return f"{self.kind(plan_hash)} of plan #{plan_hash[:4]} started"
            case DeployFinished(plan_hash=plan_hash, result=result, exit_code=code):
                exit_text = f"exit {code}, " if code is not None else ""
                tail = compact_tail(self.clean(event.output_tail), max_lines=3, max_chars=300)
                output = f"; output: {self.line(tail.replace(chr(10), ' | '))}" if tail else ""
                return (
                    f"{self.kind(plan_hash)} of plan #{plan_hash[:4]} "
                    f"{result.replace('_', ' ')} ({exit_text}{event.duration_s:.0f}s){output}"
                )
            case DeployInterrupted(plan_hash=plan_hash):
                return (
                    f"{self.kind(plan_hash)} of plan #{plan_hash[:4]} interrupted: outcome "
                    "unknown (its worker stopped before recording a result)"
                )
            case MessageSent(text=text, purpose=purpose, route=route, to=to):
                if (
                    (route is not None and to is None)
                    or purpose == "approval_request"
                    or _repeats_intent(text, previous)
                ):
                    return None  # the approval / chose line already says it
                label = "" if purpose == "info" else f" ({purpose})"
                return f"bot{label}: {self.line(text)}"
            case ErrorRecorded() | LockChanged():
                return None  # errors: in <errors> while unresolved; locks: bookkeeping
        return None

    # -- pieces -----------------------------------------------------------------------

    def clean(self, text: str) -> str:
        return redact(text, secrets=self.secrets)

    def line(self, text: str, max_chars: int = _MAX_TEXT_CHARS) -> str:
        """Outside text: redacted, on one line, ``<`` escaped, at most ``max_chars``."""
        text = " ".join(self.clean(text).split()).replace("<", "&lt;")
        return text if len(text) <= max_chars else text[: max_chars - 1] + "…"

    def who(self, actor: str) -> str:
        """The [people] name behind a channel identity, else the identity as given."""
        return (":" in actor and self.config.person_for(actor)) or self.line(actor)

    def kind(self, plan_hash: str) -> str:
        plan = self.thread.plan(plan_hash)
        return plan.kind if plan is not None else "deploy"

    def when(self, moment: datetime) -> str:
        """``HH:MM`` on the day of ``now`` (UTC), else ``YYYY-MM-DD HH:MM``."""
        moment = _utc(moment)
        if moment.date() == _utc(self.now).date():
            return f"{moment:%H:%M}"
        return f"{moment:%Y-%m-%d %H:%M}"

    def record_time(self, at: str) -> str:
        try:
            return f"{_utc(datetime.fromisoformat(at)):%Y-%m-%d %H:%M}"
        except ValueError:
            return self.line(at)


def _repeats_intent(text: str, previous: Event | None) -> bool:
    return (
        isinstance(previous, IntentChosen)
        and isinstance(previous.intent, AskHuman | Done)
        and previous.intent.message.strip() == text.strip()
    )


def _latest_tags(events: Sequence[Event]) -> list[TagsListed]:
    """The newest tags_listed per service, by service name."""
    latest = {e.service: e for e in events if isinstance(e, TagsListed)}
    return [latest[key] for key in sorted(latest)]


def _latest_history(events: Sequence[Event]) -> list[HistoryListed]:
    """The newest history_listed per service and environment, in name order."""
    latest = {(e.service, e.environment): e for e in events if isinstance(e, HistoryListed)}
    return [latest[key] for key in sorted(latest)]


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
