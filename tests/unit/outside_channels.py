"""One piece of outside text, shown by every writer the bot has (for test_outside_writers).

``through_types``: the text enters where the bot gathers it (a tag's commit subject in the
plan, the commits and note of the evidence, an email's subject, a deploy's output, a model's
answer, a person's message) and goes out through each channel's real writer: the terminal
channel, the Slack card and message text, the approval email (Subject, text, HTML), the
HTTP API's JSON, a JSON and a plain log line, and the prompt.

``around_types``: the same writers handed the raw text directly (models built without
validation), for the writers' own escaping: not every string they print is typed.
"""

import io
import logging
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from itertools import count
from pathlib import Path
from typing import Any, cast

from pydantic import BaseModel, ConfigDict

from agents.render import thread_to_prompt
from bot.core.config.config import parse_config
from bot.core.policy.approval_posts import requests_for
from bot.core.ports.outbound import ApprovalCard, OutboundMessage
from bot.core.thread.events import (
    ApprovalRequested,
    DeployFinished,
    Event,
    IntentChosen,
    PlanProposed,
    UserMessage,
)
from bot.core.thread.intents import AskHuman
from bot.core.thread.origin import EmailOrigin, TerminalOrigin
from bot.core.thread.plan import CommitInfo, Evidence, Plan
from bot.core.thread.thread import Thread
from bot.shell.runtime.logs import JsonFormatter, RedactingFormatter
from channels.api.bodies import PendingApproval, ThreadView
from channels.api.edge import answer
from channels.email.compose import letters_for
from channels.slack.blocks import approval_blocks, decided_blocks, escape
from channels.terminal import TerminalChannel

__all__ = ["CONFIG", "Rendered", "around_types", "through_types"]

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SHA = "4f2c9a1d0b7e6c5a4f2c9a1d0b7e6c5a4f2c9a1d"
CONFIG = parse_config(
    """
[people]
alice = { slack = "U0ALICE", email = "alice@example.com" }
bob = { slack = "U0BOB" }
carol = { slack = "U0CAROL" }
[services.backend]
repo = "https://github.com/acme/backend.git"
deploy = ["./d"]
environments = ["production"]
[environments.production]
approval = true
approvers = ["alice", "bob"]
""",
    base_dir=Path("/nonexistent"),
)


class Rendered(BaseModel):
    """What each writer produced."""

    model_config = ConfigDict(frozen=True)

    terminal: str
    slack_text: str
    slack_blocks: list[dict[str, Any]]
    email_subject: str
    email_text: str
    email_html: str
    api_json: bytes
    log_json: str
    log_plain: str
    prompt: str


def _terminal(messages: list[OutboundMessage]) -> str:
    out = io.StringIO()
    none = cast(Any, None)
    channel = TerminalChannel(
        config=CONFIG, ports=none, worker=none, user="carol", out=out,
        clock=lambda: NOW, new_id=lambda: "s1", echo=True,
    )  # fmt: skip
    for message in messages:
        _run(channel.send(message))
    return out.getvalue()


def _run(coroutine: Any) -> None:
    try:
        coroutine.send(None)
    except StopIteration:
        return
    raise AssertionError("the terminal's send awaited something")


def _body(mail: EmailMessage, subtype: str) -> str:
    part = mail.get_body(preferencelist=(subtype,))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


def _logs(text: str) -> tuple[str, str]:
    record = logging.LogRecord(
        "deploybot", logging.WARNING, "x.py", 1, "deploy said %s", (text,), None
    )
    record.subject = text  # an extra= field
    record.created = NOW.timestamp()
    return JsonFormatter().format(record), RedactingFormatter("%(message)s").format(record)


def _render(
    *, thread: Thread, plan: Plan, evidence: Evidence, request: OutboundMessage,
    result: OutboundMessage, email_subject_of: OutboundMessage, raw: str,
) -> Rendered:  # fmt: skip
    card = request.card
    assert card is not None
    blocks = [
        *approval_blocks(card, thread_id="t1", slack_ids={"bob": "U0BOB"}, evidence=evidence),
        *decided_blocks(card, slack_ids={"bob": "U0BOB"}, notes=[result.text], text=result.text),
    ]
    letters = letters_for(
        email_subject_of, sender="deploybot@example.com", secret=b"k",
        emails={"alice": "alice@example.com"}, now=NOW,
    )  # fmt: skip
    alice = next(letter.message for letter in letters if letter.recipient == "alice@example.com")
    pending = PendingApproval(
        plan_hash=plan.plan_hash, plan=plan, approvers=["alice", "bob"], min_approvals=1,
        approved_by=[], expires_at=NOW + timedelta(hours=1), evidence=evidence,
    )  # fmt: skip
    view = ThreadView.model_construct(
        id=thread.id, status="awaiting_approval", origin=thread.origin, agent="deploy",
        created_at=NOW, approval=pending, events=thread.events,
    )  # fmt: skip
    log_json, log_plain = _logs(raw)
    return Rendered(
        terminal=_terminal([request, result]),
        slack_text=escape(request.text) + "\n" + escape(result.text),
        slack_blocks=[b.to_dict() for b in blocks],
        email_subject=str(alice["Subject"]),
        email_text=_body(alice, "plain"),
        email_html=_body(alice, "html"),
        api_json=bytes(answer(view, 200).body),
        log_json=log_json,
        log_plain=log_plain,
        prompt=thread_to_prompt(thread, config=CONFIG, now=NOW),
    )


def _thread(events: list[Event]) -> Thread:
    return Thread.model_construct(
        id="t1", origin=TerminalOrigin(session="s1"), agent="deploy", created_at=NOW,
        events=events, version=1,
    )  # fmt: skip


def through_types(text: str) -> Rendered:
    """``text`` gathered into the typed models, then shown by every writer."""
    plan = Plan(
        kind="deploy", service="backend", environment="production", version="v1.4.2", sha=SHA,
        subject=text, previous_version="v1.4.1", requester="carol",
    )  # fmt: skip
    evidence = Evidence(
        live_version="v1.4.1", requester="carol", commits_total=2,
        commits=[
            CommitInfo(sha=SHA, subject=text, author=text),
            CommitInfo(sha="1" * 40, subject="fix login timeout", author="Ann Lee"),
        ],
        compare_url="https://github.com/acme/backend/compare/v1.4.1...4f2c9a1d", note=text,
    )  # fmt: skip
    request = ApprovalRequested(
        id="e3", at=NOW, plan_hash=plan.plan_hash, approvers=["alice", "bob"], min_approvals=1,
        expires_at=NOW + timedelta(hours=1),
    )  # fmt: skip
    events: list[Event] = [
        UserMessage(id="e1", at=NOW, actor="terminal:carol", text=text),
        IntentChosen(
            id="e2", at=NOW, intent=AskHuman(message="asks: " + text[:1990]), source="model"
        ),
        PlanProposed(id="e4", at=NOW, plan=plan, evidence=evidence),
        request,
        DeployFinished(
            id="e5",
            at=NOW,
            plan_hash=plan.plan_hash,
            result="failed",
            exit_code=1,
            duration_s=3,
            output_tail=text,
        ),
    ]
    thread = Thread(id="t1", origin=TerminalOrigin(session="s1"), created_at=NOW, events=events)
    ids = count(1)
    (sent, *_) = requests_for(
        thread, config=CONFIG, plan=plan, request=request, now=NOW, new_id=lambda: f"m{next(ids)}"
    )
    origin = EmailOrigin(address="carol@example.com", subject=text, message_ids=["<r1@x>"])
    card = ApprovalCard(
        plan=plan, plan_hash=plan.plan_hash, approvers=["alice", "bob"], min_approvals=1,
        expires_at=NOW + timedelta(hours=1), evidence=evidence,
    )  # fmt: skip
    message = OutboundMessage(
        thread_id="t1", message_id="m1", origin=origin, text=sent.text,
        purpose="approval_request", card=card,
    )  # fmt: skip
    result = OutboundMessage(
        thread_id="t1", message_id="m2", origin=origin, text=f"Deploy failed. Output: {text}",
        purpose="result",
    )  # fmt: skip
    return _render(
        thread=thread, plan=plan, evidence=evidence, request=message, result=result,
        email_subject_of=message, raw=text,
    )  # fmt: skip


def around_types(text: str) -> Rendered:
    """``text`` handed raw to every writer (models built without validation)."""
    plan = Plan.model_construct(
        kind="deploy", service="backend", environment="production", version="v1.4.2", sha=SHA,
        subject=text, previous_version="v1.4.1", requester="carol", attempt=1,
        previous_sha=None, lineage=None,
    )  # fmt: skip
    evidence = Evidence.model_construct(
        live_version="v1.4.1", requester="carol", commits_total=1,
        commits=[CommitInfo.model_construct(sha=SHA, subject=text, author=text)],
        compare_url=None, ci_state=None, ci_url=None, note=text,
    )  # fmt: skip
    origin = EmailOrigin.model_construct(
        kind="email", address="carol@example.com", subject=text, message_ids=["<r1@x>"]
    )
    card = ApprovalCard.model_construct(
        plan=plan, plan_hash=plan.plan_hash, approvers=["alice", "bob"], min_approvals=1,
        expires_at=NOW + timedelta(hours=1), evidence=evidence,
    )  # fmt: skip
    fields = dict(thread_id="t1", origin=origin, to=None, replaces=None, route=None, topic="")
    request = OutboundMessage.model_construct(
        message_id="m1", text=text, purpose="approval_request", card=card, **fields
    )
    result = OutboundMessage.model_construct(
        message_id="m2", text=text, purpose="result", card=None, **fields
    )
    events: list[Event] = [
        UserMessage.model_construct(id="e1", at=NOW, type="user_message", actor="t:c", text=text),
        PlanProposed.model_construct(
            id="e2", at=NOW, type="plan_proposed", plan=plan, evidence=evidence
        ),
    ]
    return _render(
        thread=_thread(events), plan=plan, evidence=evidence, request=request, result=result,
        email_subject_of=request, raw=text,
    )  # fmt: skip
