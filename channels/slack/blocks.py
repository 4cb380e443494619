"""Block Kit for the bot's Slack messages (pure): the approval card, its decided form, the
reject-reason modal.

The card shows the exact plan (service, current -> new version, commit, environment, who
asked, who may approve, when it expires) with Approve and Reject buttons whose values name
the thread and the plan hash. Once decided, the same message keeps the plan and shows the
decision (and then the deploy's progress and result) in place of the buttons.

With evidence (bot/shell/world/evidence.py) the open card also shows the commit range, the newest
commits, a compare link, the planned commit's CI status and any note. Commit subjects and
authors come from outside: they are redacted, cut, and shown as ``plain_text`` (Slack
parses no mention, link or formatting there: ``<!channel>`` and ``*bold*`` stay text).

Everything put into ``mrkdwn`` is escaped (``escape``: ``&``, ``<``, ``>``, so no text can
ping ``<!channel>``, mention ``<@U..>`` or forge a ``<url|link>``; anything a reader would act
on, bot.core.thread.text.outside's ``inert``, is removed); a value inside a bold or code span is
written
with ``bold``/``code``, which replace the span's own closing mark in it with a look-alike, so
no text closes the span early and formats what follows. Text that is all prose (a decided
card's steps and latest word) is ``plain_text``.
"""

import json
from collections.abc import Mapping, Sequence
from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.core.ports.outbound import ApprovalCard
from bot.core.thread.plan import Evidence, Plan
from bot.core.thread.text.outside import inert
from bot.core.wording.evidence import evidence_commits, evidence_range, evidence_url, outside_text
from bot.core.wording.promotion import override_lines
from channels.slack.ids import (
    APPROVE_ACTION,
    REASON_BLOCK,
    REASON_INPUT,
    REJECT_ACTION,
    REJECT_VIEW,
    button_value,
)

__all__ = [
    "approval_blocks",
    "bold",
    "clip",
    "code",
    "decided_blocks",
    "escape",
    "evidence_blocks",
    "plan_title",
    "reject_modal",
    "slack_date",
]

_SECTION_MAX = 3000
_FIELD_MAX = 2000
_CONTEXT_MAX = 2000


def escape(text: str) -> str:
    """Plain text as Slack mrkdwn shows it verbatim (``&``, ``<`` and ``>`` escaped, nothing
    a reader acts on)."""
    text = inert(text, multiline=True)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_STAR_LOOKALIKE = "\u2217"  # ASTERISK OPERATOR: looks like *, closes no bold span
_TICK_LOOKALIKE = "\u02cb"  # MODIFIER LETTER GRAVE ACCENT: looks like `, closes no code span


def bold(text: str) -> str:
    """``*text*`` that no ``*`` in ``text`` can end early (it shows as U+2217)."""
    return f"*{escape(text).replace('*', _STAR_LOOKALIKE)}*" if text else ""


def code(text: str) -> str:
    """A code span of ``text`` that no backtick in it can end early (shown as U+02CB)."""
    return f"`{escape(text).replace('`', _TICK_LOOKALIKE)}`" if text else ""


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters; never half an entity (``&l…``) or half a mention, date
    or link (``<https://…``): the cut backs off to before it."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if (amp := cut.rfind("&")) > cut.rfind(";"):
        cut = cut[:amp]
    if (lt := cut.rfind("<")) > cut.rfind(">"):
        cut = cut[:lt]
    return cut + "…"


def _who(name: str, slack_ids: Mapping[str, str]) -> str:
    """A person as a Slack mention when their Slack id is known, else their name."""
    ident = slack_ids.get(name)
    return f"<@{ident}>" if ident else escape(name)


def slack_date(at: datetime) -> str:
    """A time every reader sees in their own time zone (with a UTC fallback)."""
    fallback = at.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def plan_title(plan: Plan) -> str:
    if plan.kind == "rollback":
        return f"Roll back {plan.service} to {plan.version} in {plan.environment}"
    return f"Deploy {plan.service} {plan.version} to {plan.environment}"


def _head(card: ApprovalCard, slack_ids: Mapping[str, str]) -> SectionBlock:
    plan = card.plan
    commit = code(plan.sha[:7]) + (f" {escape(plan.subject)}" if plan.subject else "")
    current = code(plan.previous_version) if plan.previous_version else "nothing yet"
    if plan.ahead is not None and plan.previous_version:  # what the plans ahead leave
        current += " (queued ahead)" if plan.ahead == "queued" else " (deploying now)"
    approvers = ", ".join(_who(p, slack_ids) for p in card.approvers)
    needed = "" if len(card.approvers) <= 1 else f" ({card.min_approvals} needed)"
    fields = [
        f"*Service*\n{escape(plan.service)}",
        f"*Environment*\n{escape(plan.environment)}",
        f"*Version*\n{current} → {code(plan.version)}",
        f"*Commit*\n{commit}",
        f"*Requested by*\n{_who(plan.requester, slack_ids)}",
        f"*Approvers*\n{approvers}{needed}",
    ]
    return SectionBlock(
        text=MarkdownTextObject(
            text=clip(f"{bold(plan_title(plan))} (plan #{plan.short_id})", _SECTION_MAX)
        ),
        fields=[MarkdownTextObject(text=clip(f, _FIELD_MAX)) for f in fields],
    )


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=clip(text, _CONTEXT_MAX))])


_CI_MARK = {
    "success": ":white_check_mark:",
    "failure": ":x:",
    "error": ":x:",
    "pending": ":hourglass_flowing_sand:",
    "unknown": ":grey_question:",
}


def _plain(text: str, limit: int) -> PlainTextObject:
    return PlainTextObject(text=clip(inert(text, multiline=True), limit), emoji=False)


def evidence_blocks(plan: Plan, evidence: Evidence) -> list[Block]:
    """The evidence beside the plan: range and compare link, the newest commits (plain
    text), CI status and the note."""
    heading = evidence_range(plan, evidence)
    top = bold(heading) if heading else "*Commits:* not known"
    if compare := evidence_url(evidence.compare_url):
        top += f" · <{escape(compare)}|Compare on GitHub>"
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=clip(top, _SECTION_MAX)))]
    commits, more = evidence_commits(evidence)
    if commits:
        lines = [f"{sha}  {subject}  ({author})" for sha, subject, author in commits]
        if more:
            lines.append(f"… and {more} more")
        blocks.append(SectionBlock(text=_plain("\n".join(lines), _SECTION_MAX)))
    elements: list[MarkdownTextObject | PlainTextObject] = []
    if evidence.ci_state is not None:
        words = "no status reported" if evidence.ci_state == "unknown" else evidence.ci_state
        ci = f"{_CI_MARK[evidence.ci_state]} CI on {code(plan.sha[:7])}: {words}"
        if link := evidence_url(evidence.ci_url):
            ci += f" · <{escape(link)}|details>"
        elements.append(MarkdownTextObject(text=clip(ci, _CONTEXT_MAX)))
    if evidence.note:
        elements.append(_plain(f"Note: {outside_text(evidence.note, max_chars=300)}", _CONTEXT_MAX))
    elements.extend(_plain(f"Release: {note}.", _CONTEXT_MAX) for note in evidence.release)
    if elements:
        blocks.append(ContextBlock(elements=elements))
    return blocks


def approval_blocks(
    card: ApprovalCard,
    *,
    thread_id: str,
    slack_ids: Mapping[str, str],
    evidence: Evidence | None = None,
) -> list[Block]:
    """The open approval request: the plan, the evidence if any, its expiry, Approve and
    Reject."""
    plan = card.plan
    value = button_value(thread_id, card.plan_hash)
    confirm = ConfirmObject(
        title="Approve this deploy?",
        text=MarkdownTextObject(
            text=clip(f"{escape(plan_title(plan))} ({code(plan.sha[:7])}).", _SECTION_MAX)
        ),
        confirm="Approve",
        deny="Cancel",
    )
    noun = "approval" if card.min_approvals == 1 else "approvals"
    # Part of what is approved, so always on the card (evidence or not).
    warning = plan.not_built_on_live()
    shown = f":warning: {bold(warning[:1].upper() + warning[1:])}" if warning else None
    # Release policy a person set aside: in full, for the approvers to decide with.
    overrides = [f":rotating_light: {bold(line)}" for line in override_lines(plan)]
    return [
        _head(card, slack_ids),
        *([_context(shown)] if shown else []),
        *(_context(line) for line in overrides),
        *(evidence_blocks(plan, evidence) if evidence is not None else []),
        _context(
            f"Waiting for {card.min_approvals} {noun}. Expires {slack_date(card.expires_at)}. "
            f"You can also reply {code(card.approve_with)} or "
            f"{code(card.reject_with + ' <reason>')} in this thread."
        ),
        ActionsBlock(
            block_id="decision",
            elements=[
                ButtonElement(
                    text="Approve",
                    action_id=APPROVE_ACTION,
                    value=value,
                    style="primary",
                    confirm=confirm,
                ),
                ButtonElement(text="Reject", action_id=REJECT_ACTION, value=value, style="danger"),
            ],
        ),
    ]


def decided_blocks(
    card: ApprovalCard, *, slack_ids: Mapping[str, str], notes: Sequence[str], text: str
) -> list[Block]:
    """The card once decided: the plan, earlier steps (``notes``), the latest word; no
    buttons."""
    return [
        _head(card, slack_ids),
        *(ContextBlock(elements=[_plain(note, _CONTEXT_MAX)]) for note in notes),
        SectionBlock(text=_plain(text, _SECTION_MAX)),
    ]


def reject_modal(*, thread_id: str, plan_hash: str) -> View:
    """The modal a Reject click opens: the reason is required."""
    return View(
        type="modal",
        callback_id=REJECT_VIEW,
        title="Reject deploy",
        submit="Reject",
        close="Cancel",
        private_metadata=json.dumps({"t": thread_id, "p": plan_hash}),
        blocks=[
            SectionBlock(
                text=MarkdownTextObject(
                    text=f"Reject plan *#{plan_hash[:4]}*? Nothing will be deployed."
                )
            ),
            InputBlock(
                block_id=REASON_BLOCK,
                label="Reason",
                element=PlainTextInputElement(
                    action_id=REASON_INPUT,
                    placeholder="Why not? The requester sees this.",
                    max_length=300,
                ),
            ),
        ],
    )
