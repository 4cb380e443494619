"""How the prompt writes one thing on one line (``agents.render`` assembles the sections).

``LineRenderer.event_text`` turns one thread event into its ``<thread>`` line (``None`` for
events the model reads elsewhere or that only repeat the line before). The pieces under it are
the one way outside text, people and times are written anywhere in the prompt, so the section
code in ``agents.render`` uses them too: outside text is made inert
(``bot.core.thread.text.outside``: no
escape sequences, control, bidi or zero-width characters, which could also hide a secret from
redaction), redacted before it is shortened, and has ``<`` escaped so it cannot open or close
a section; people are shown by their ``[people]`` name, never by an approver's channel
identity.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from bot.core.config.config import Config
from bot.core.thread.events import (
    ApprovalDecided,
    ApprovalEscalated,
    ApprovalRefused,
    ApprovalRequested,
    CronFired,
    DecisionReceived,
    DeployFinished,
    DeployInterrupted,
    DeployQueued,
    DeployStarted,
    ErrorRecorded,
    Event,
    HistoryListed,
    IntentChosen,
    LockChanged,
    MessageSent,
    PlanProposed,
    PlanSuperseded,
    QueueLeft,
    QueueMoved,
    QueueTurn,
    ReleaseAwaited,
    TagsListed,
    UserMessage,
    VerificationFinished,
    VersionQuarantined,
    VersionReleased,
    WebhookReceived,
)
from bot.core.thread.intents import AskHuman, Done
from bot.core.thread.text.actor import Actor, ActorError
from bot.core.thread.text.outside import inert
from bot.core.thread.thread import Thread
from bot.core.wording.redact import compact_tail, redact

__all__ = ["LineRenderer", "utc"]

_MAX_TEXT_CHARS = 2000


@dataclass(frozen=True, kw_only=True)
class LineRenderer:
    """One thread's lines, for one prompt: what they need to know to read the same way."""

    thread: Thread
    config: Config
    now: datetime
    secrets: tuple[str, ...]
    shown: frozenset[str]  # ids of the lookups rendered in <tags> / <deploys>

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
                fields = intent.model_dump(
                    exclude={"intent"}, exclude_none=True, exclude_defaults=True
                )
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
            case ReleaseAwaited(intent=intent, retry_at=retry_at):
                return (
                    f"waiting to plan {intent.service} {intent.version or '(newest tag)'} -> "
                    f"{intent.environment} again at {self.when(retry_at)}: "
                    f"{self.line(event.reason)}"
                )
            case (
                DeployQueued(plan_hash=plan_hash, position=n)
                | QueueMoved(plan_hash=plan_hash, position=n)
            ):
                behind = f", behind {self.line(event.behind)}" if event.behind else ""
                return f"plan #{plan_hash[:4]} waits in line: position {n}{behind}"
            case QueueTurn(plan_hash=plan_hash):
                return f"plan #{plan_hash[:4]}: its turn in line came"
            case QueueLeft(why=why):
                what = f"plan #{event.plan_hash[:4]}" if event.plan_hash else "the wait"
                return f"{what} left the line: {why}"
            case ErrorRecorded() | LockChanged():
                return None  # errors: in <errors> while unresolved; locks: bookkeeping
        return None

    # -- pieces -----------------------------------------------------------------------

    def clean(self, text: str) -> str:
        return redact(inert(text, multiline=True), secrets=self.secrets)

    def line(self, text: str, max_chars: int = _MAX_TEXT_CHARS) -> str:
        """Outside text: redacted, on one line, ``<`` escaped, at most ``max_chars``."""
        text = " ".join(self.clean(text).split()).replace("<", "&lt;")
        return text if len(text) <= max_chars else text[: max_chars - 1] + "…"

    def who(self, actor: Actor | str) -> str:
        """The [people] name behind an actor (or a requester stored as one), else as given."""
        try:  # an Actor was parsed when its event was loaded: only a plain name is parsed
            person = self.config.person_for(actor if isinstance(actor, Actor) else Actor(actor))
        except ActorError:  # a requester's name, not an actor
            person = None
        return person or self.line(actor)

    def kind(self, plan_hash: str) -> str:
        plan = self.thread.plan(plan_hash)
        return plan.kind if plan is not None else "deploy"

    def when(self, moment: datetime) -> str:
        """``HH:MM`` on the day of ``now`` (UTC), else ``YYYY-MM-DD HH:MM``."""
        moment = utc(moment)
        if moment.date() == utc(self.now).date():
            return f"{moment:%H:%M}"
        return f"{moment:%Y-%m-%d %H:%M}"

    def record_time(self, at: str) -> str:
        try:
            return f"{utc(datetime.fromisoformat(at)):%Y-%m-%d %H:%M}"
        except ValueError:
            return self.line(at)


def _repeats_intent(text: str, previous: Event | None) -> bool:
    return (
        isinstance(previous, IntentChosen)
        and isinstance(previous.intent, AskHuman | Done)
        and previous.intent.message.strip() == text.strip()
    )


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive one is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
