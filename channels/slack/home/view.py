"""The Slack App Home (pure): the board (``bot.core.ports.board``) as one person's ``home`` view.

First the approvals waiting for the viewer, each with Approve and Reject buttons carrying the
approval card's own action ids and values (thread id and plan hash), so the card's handler
decides them, bound to the same plan, under the same policy. A request shows its buttons
only when ``bot.core.policy.approval.check_decision`` lets the viewer approve it now: their
own request where self-approval is off is listed under "Your requests", without buttons.
Then each environment's lock and freezes, then each service with, per environment, what is
live (version, when, by whom), the deploy holding it, quarantined versions, requests waiting,
the queue and soak.

Slack refuses a view of more than 100 blocks: whole items are kept while they fit, and a
last line says how many were left out. Outside text is escaped as on the approval card
(``blocks.escape``, ``bold``, ``code``); people are shown as mentions where their Slack id is
known; times are "HH:MM UTC", with the day when it is not the board's.
"""

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.core.config.config import Config
from bot.core.policy.approval import Allowed, check_decision
from bot.core.ports.board import Board, PairBoard, Waiting
from bot.core.thread.text.actor import Actor
from channels.slack.blocks import bold, clip, code, escape, plan_title
from channels.slack.home.lines import environment_line, mine_line, pair_field, when, who
from channels.slack.ids import APPROVE_ACTION, REJECT_ACTION, button_value

__all__ = ["MAX_BLOCKS", "fingerprint", "home_view", "stranger_view"]

MAX_BLOCKS = 100  # Slack's cap for one view
_TEXT_MAX = 3000
_FIELDS_PER_SECTION = 10
_MINE_SHOWN = 10


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip(text, _TEXT_MAX)))


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=clip(text, _TEXT_MAX))])


def _allows(
    waiting: Waiting,
    decision: Literal["approve", "reject"],
    *,
    config: Config,
    viewer: Actor,
    now: datetime,
) -> bool:
    verdict = check_decision(
        config=config, open_approval=waiting.approval, actor=viewer, decision=decision, now=now
    )
    return isinstance(verdict, Allowed)


def _approval_item(
    waiting: Waiting, *, reject: bool, now: datetime, slack_ids: Mapping[str, str]
) -> list[Block]:
    """One request the viewer may approve: the plan, who asked, expiry, the card's buttons."""
    approval = waiting.approval
    plan = approval.plan
    current = code(plan.previous_version) if plan.previous_version else "nothing yet"
    commit = code(plan.sha[:7]) + (f" {escape(plan.subject)}" if plan.subject else "")
    title = f"{bold(plan_title(plan))} (plan #{plan.short_id})"
    head = f"{title}\n{current} → {code(plan.version)} · {commit}"
    needed = approval.request.min_approvals
    got = ", ".join(who(p, slack_ids) for p in approval.approved_by)
    noun = "approval" if needed == 1 else "approvals"
    so_far = (
        f"approved by {got}, {len(approval.approved_by)} of {needed}"
        if got
        else f"{needed} {noun} needed"
    )
    notes = [
        f"Asked by {who(plan.requester, slack_ids)}",
        so_far,
        f"expires {when(approval.request.expires_at, now)}",
    ]
    if warning := plan.not_built_on_live():
        notes.append(f":warning: {escape(warning)}")
    value = button_value(waiting.thread_id, plan.plan_hash)
    buttons = [
        ButtonElement(
            text="Approve",
            action_id=APPROVE_ACTION,
            value=value,
            style="primary",
            confirm=ConfirmObject(
                title="Approve this deploy?",
                text=MarkdownTextObject(
                    text=clip(f"{escape(plan_title(plan))} ({code(plan.sha[:7])}).", _TEXT_MAX)
                ),
                confirm="Approve",
                deny="Cancel",
            ),
        )
    ]
    if reject:
        buttons.append(
            ButtonElement(text="Reject", action_id=REJECT_ACTION, value=value, style="danger")
        )
    return [
        _section(head),
        _context(" · ".join(notes)),
        # Block ids are unique within a view; the handler reads only action ids and values.
        ActionsBlock(block_id=f"decide-{waiting.thread_id}-{plan.short_id}", elements=buttons),
    ]


def _service_blocks(
    service: str, pairs: Sequence[PairBoard], *, now: datetime, slack_ids: Mapping[str, str]
) -> list[Block]:
    fields = [pair_field(p, now=now, slack_ids=slack_ids) for p in pairs]
    return [
        SectionBlock(
            text=MarkdownTextObject(text=bold(service)),
            fields=[MarkdownTextObject(text=f) for f in fields[i : i + _FIELDS_PER_SECTION]],
        )
        for i in range(0, max(len(fields), 1), _FIELDS_PER_SECTION)
    ]


def _capped(groups: Sequence[list[Block]]) -> list[Block]:
    """Whole groups while they fit in ``MAX_BLOCKS``, then one line naming how many did not."""
    blocks: list[Block] = []
    for i, group in enumerate(groups):
        if len(blocks) + len(group) > MAX_BLOCKS - 1:
            left = len(groups) - i
            blocks.append(
                _context(
                    f"+{left} more not shown (Slack shows at most {MAX_BLOCKS} blocks here); "
                    "ask me `where can I deploy <service>` for the rest."
                )
            )
            return blocks
        blocks.extend(group)
    return blocks


def home_view(board: Board, *, viewer: str, config: Config, slack_ids: Mapping[str, str]) -> View:
    """The App Home of the Slack user ``viewer`` (a person in ``[people]``)."""
    now = board.at
    actor = Actor.of("slack", viewer)
    person = config.person_for(actor)
    groups: list[list[Block]] = [
        [
            HeaderBlock(text="Deploys"),
            _context(f"What is live, held and waiting, for <@{viewer}>. Times in UTC."),
        ]
    ]
    waiting = sorted(
        (w for p in board.pairs for w in p.waiting if w.approval.request.expires_at > now),
        key=lambda w: w.approval.request.expires_at,
    )
    yours = [w for w in waiting if _allows(w, "approve", config=config, viewer=actor, now=now)]
    for i, w in enumerate(yours):
        reject = _allows(w, "reject", config=config, viewer=actor, now=now)
        item = _approval_item(w, reject=reject, now=now, slack_ids=slack_ids)
        groups.append(
            [_section(f"*Waiting for your approval* ({len(yours)})"), *item] if i == 0 else item
        )
    mine = [w for w in waiting if w.approval.plan.requester == person and w not in yours]
    if mine:
        lines = [mine_line(w, now=now, slack_ids=slack_ids) for w in mine[:_MINE_SHOWN]]
        if len(mine) > _MINE_SHOWN:
            lines.append(f"+{len(mine) - _MINE_SHOWN} more")
        groups.append([_section("*Your requests*\n" + "\n".join(lines))])
    env_lines = [environment_line(e, now=now, slack_ids=slack_ids) for e in board.environments]
    groups.append([DividerBlock(), _section("*Environments*\n" + "\n".join(env_lines))])
    by_service: dict[str, list[PairBoard]] = {}
    for pair in board.pairs:
        by_service.setdefault(pair.service, []).append(pair)
    for service, pairs in by_service.items():
        groups.append(_service_blocks(service, pairs, now=now, slack_ids=slack_ids))
    return View(type="home", blocks=_capped(groups))


def stranger_view(*, viewer: str) -> View:
    """The App Home of someone deploybot does not know."""
    return View(
        type="home",
        blocks=[
            HeaderBlock(text="Deploys"),
            _section(
                f"<@{viewer}>, you are not in deploybot's list of people, so there is nothing "
                "to show you here. Ask whoever runs deploybot to add your Slack id "
                f"({code(viewer)}) under [people] in its config."
            ),
        ],
    )


def fingerprint(view: View) -> str:
    """What the view shows, as a short hash: equal views are not published twice."""
    shown = json.dumps(view.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(shown.encode()).hexdigest()[:16]
