"""Block Kit rendering tables: the approval card, its decided form, the reject modal."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from bot.core.ports.channel_state import Posted
from bot.core.ports.outbound import ApprovalCard
from bot.core.thread.plan import Plan
from channels.slack.blocks import (
    approval_blocks,
    decided_blocks,
    escape,
    plan_title,
    reject_modal,
    slack_date,
)
from channels.slack.ids import parse_button_value

EXPIRES = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
IDS = {"alice": "U0ALICE", "bob": "U0BOB", "carol": "U0CAROL"}


def card(**plan: Any) -> ApprovalCard:
    fields: dict[str, Any] = {
        "kind": "deploy",
        "service": "backend",
        "environment": "production",
        "version": "v1.4.2",
        "sha": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
        "subject": "fix login timeout",
        "previous_version": "v1.4.1",
        "requester": "carol",
    }
    p = Plan(**(fields | plan))
    return ApprovalCard(
        plan=p,
        plan_hash=p.plan_hash,
        approvers=["alice", "bob", "dave"],
        min_approvals=1,
        expires_at=EXPIRES,
    )


def dicts(blocks: list[Block]) -> list[dict[str, Any]]:
    return [b.to_dict() for b in blocks]


def all_text(blocks: list[Block]) -> list[str]:
    """Every ``text`` string in the blocks, depth first."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    found.append(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(dicts(blocks))
    return found


def test_the_card_shows_the_exact_plan() -> None:
    c = card()
    blocks = dicts(approval_blocks(c, thread_id="s0123456789ab", slack_ids=IDS))
    head, context, actions = blocks
    assert (
        head["text"]["text"] == f"*Deploy backend v1.4.2 to production* (plan #{c.plan.short_id})"
    )
    fields = [f["text"] for f in head["fields"]]
    assert fields == [
        "*Service*\nbackend",
        "*Environment*\nproduction",
        "*Version*\n`v1.4.1` → `v1.4.2`",
        "*Commit*\n`a1b2c3d` fix login timeout",
        "*Requested by*\n<@U0CAROL>",
        "*Approvers*\n<@U0ALICE>, <@U0BOB>, dave (1 needed)",
    ]
    assert "Expires <!date^1793613600^" in context["elements"][0]["text"]
    assert "|2026-11-02 10:00 UTC>" in context["elements"][0]["text"]
    approve, reject = actions["elements"]
    assert (approve["action_id"], approve["style"]) == ("deploybot_approve", "primary")
    assert (reject["action_id"], reject["style"]) == ("deploybot_reject", "danger")
    assert parse_button_value(approve["value"]) == ("s0123456789ab", c.plan_hash)
    assert approve["value"] == reject["value"]
    assert approve["confirm"]["text"]["text"] == "Deploy backend v1.4.2 to production (`a1b2c3d`)."


@pytest.mark.parametrize(
    ("plan", "expect"),
    [
        ({"previous_version": None}, "*Version*\nnothing yet → `v1.4.2`"),
        ({"subject": None}, "*Commit*\n`a1b2c3d`"),
        ({"subject": "<b>&co</b>"}, "*Commit*\n`a1b2c3d` &lt;b&gt;&amp;co&lt;/b&gt;"),
        ({"requester": "erin"}, "*Requested by*\nerin"),
        ({"kind": "rollback", "version": "v1.4.0"}, "*Roll back backend to v1.4.0 in production*"),
    ],
)
def test_card_variants(plan: dict[str, Any], expect: str) -> None:
    texts = all_text(approval_blocks(card(**plan), thread_id="s1", slack_ids=IDS))
    assert any(expect in text for text in texts), texts


def test_a_long_subject_is_clipped_not_rejected_by_slack() -> None:
    blocks = approval_blocks(card(subject="x" * 5000), thread_id="s1", slack_ids=IDS)
    commit = dicts(blocks)[0]["fields"][3]["text"]
    # A subject is outside text: capped when the plan is made (bot.core.thread.text.outside, 200).
    assert commit == "*Commit*\n`a1b2c3d` " + "x" * 199 + "…"


def test_decided_card_has_no_buttons_and_keeps_the_plan() -> None:
    c = card()
    blocks = dicts(
        decided_blocks(
            c,
            slack_ids=IDS,
            notes=["Plan #x approved by bob (09:00 UTC). Deploying ..."],
            text="Deploying backend v1.4.2 to production ... ok in 1.0 s.",
        )
    )
    assert [b["type"] for b in blocks] == ["section", "context", "section"]
    assert blocks[0] == dicts(approval_blocks(c, thread_id="s1", slack_ids=IDS))[0]
    assert blocks[1]["elements"][0]["text"].startswith("Plan #x approved by bob")
    assert blocks[2]["text"]["text"].endswith("ok in 1.0 s.")
    assert "deploybot_approve" not in json.dumps(blocks)


def test_posted_records_chain_one_message() -> None:
    posted = Posted(channel="C1", ts="1.1", card=card(), open=True)
    decided = posted.replaced_by("approved by bob")
    assert (decided.ts, decided.open, decided.notes) == ("1.1", False, ["approved by bob"])
    progress = decided.replaced_by("Deploying ... 5 s")
    assert progress.notes == ["approved by bob"]  # progress is shown, not kept as a note
    assert Posted.model_validate_json(progress.model_dump_json()) == progress


def test_reject_modal() -> None:
    view = reject_modal(thread_id="s1", plan_hash="3f2a9b1c").to_dict()
    assert view["callback_id"] == "deploybot_reject_reason"
    assert json.loads(view["private_metadata"]) == {"t": "s1", "p": "3f2a9b1c"}
    reason = view["blocks"][1]
    assert (reason["block_id"], reason["element"]["action_id"]) == ("reason", "reason_input")
    assert "optional" not in reason  # the reason is required


@pytest.mark.parametrize(
    ("text", "want"),
    [("a < b & c > d", "a &lt; b &amp; c &gt; d"), ("<@U1>", "&lt;@U1&gt;"), ("plain", "plain")],
)
def test_escape(text: str, want: str) -> None:
    assert escape(text) == want


def test_titles_and_dates() -> None:
    assert plan_title(card().plan) == "Deploy backend v1.4.2 to production"
    assert slack_date(EXPIRES) == (
        "<!date^1793613600^{date_short_pretty} at {time}|2026-11-02 10:00 UTC>"
    )
