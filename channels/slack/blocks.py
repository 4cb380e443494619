"""Block Kit for the bot's Slack messages (pure): the approval card, its decided form, the
reject-reason modal.

The card shows the exact plan (service, current -> new version, commit, environment, who
asked, who may approve, when it expires) with Approve and Reject buttons whose values name
the thread and the plan hash. Once decided, the same message keeps the plan and shows the
decision (and then the deploy's progress and result) in place of the buttons.
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
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.channel import ApprovalCard
from bot.plan import Plan
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
    "decided_blocks",
    "escape",
    "plan_title",
    "reject_modal",
    "slack_date",
]

_SECTION_MAX = 3000
_FIELD_MAX = 2000
_CONTEXT_MAX = 2000


def escape(text: str) -> str:
    """Plain text as Slack mrkdwn shows it verbatim (``&``, ``<`` and ``>`` escaped)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    commit = f"`{plan.sha[:7]}`" + (f" {escape(plan.subject)}" if plan.subject else "")
    current = f"`{escape(plan.previous_version)}`" if plan.previous_version else "nothing yet"
    approvers = ", ".join(_who(p, slack_ids) for p in card.approvers)
    needed = "" if len(card.approvers) <= 1 else f" ({card.min_approvals} needed)"
    fields = [
        f"*Service*\n{escape(plan.service)}",
        f"*Environment*\n{escape(plan.environment)}",
        f"*Version*\n{current} → `{escape(plan.version)}`",
        f"*Commit*\n{commit}",
        f"*Requested by*\n{_who(plan.requester, slack_ids)}",
        f"*Approvers*\n{approvers}{needed}",
    ]
    return SectionBlock(
        text=MarkdownTextObject(
            text=_clip(f"*{escape(plan_title(plan))}* (plan #{plan.short_id})", _SECTION_MAX)
        ),
        fields=[MarkdownTextObject(text=_clip(f, _FIELD_MAX)) for f in fields],
    )


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=_clip(text, _CONTEXT_MAX))])


def approval_blocks(
    card: ApprovalCard, *, thread_id: str, slack_ids: Mapping[str, str]
) -> list[Block]:
    """The open approval request: the plan, its expiry, Approve and Reject."""
    plan = card.plan
    value = button_value(thread_id, card.plan_hash)
    confirm = ConfirmObject(
        title="Approve this deploy?",
        text=MarkdownTextObject(
            text=_clip(f"{escape(plan_title(plan))} (`{plan.sha[:7]}`).", _SECTION_MAX)
        ),
        confirm="Approve",
        deny="Cancel",
    )
    noun = "approval" if card.min_approvals == 1 else "approvals"
    return [
        _head(card, slack_ids),
        _context(
            f"Waiting for {card.min_approvals} {noun}. Expires {slack_date(card.expires_at)}. "
            f"You can also reply `approve` or `reject <reason>` in this thread."
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
        *(_context(escape(note)) for note in notes),
        SectionBlock(text=MarkdownTextObject(text=_clip(escape(text), _SECTION_MAX))),
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
