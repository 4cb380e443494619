"""The evidence on the approval card, as each channel shows it (golden files).

Each case is one Evidence value beside one plan, recorded on the thread's ``plan_proposed``
the way the worker records it. The request is built the way the worker builds it
(``bot.core.policy.approval_posts.requests_for`` finds the evidence through the thread), then shown
as the terminal text, the approval email (text and HTML parts, ``channels.email.compose``) and the
Slack Block Kit card (``channels.slack.blocks``). The golden files are
``tests/unit/golden/evidence_<case>.txt``; regenerate them after an intended change with
``UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/core/wording/test_evidence_card.py`` and review
the diff.
"""

import hashlib
import json
import os
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from itertools import count
from pathlib import Path

import pytest

from bot.core.config.config import Config, parse_config
from bot.core.policy.approval_posts import requests_for
from bot.core.ports.outbound import ApprovalCard, OutboundMessage
from bot.core.thread.events import ApprovalRequested, PlanProposed
from bot.core.thread.origin import EmailOrigin, TerminalOrigin
from bot.core.thread.plan import CommitInfo, Evidence, Plan
from bot.core.thread.thread import Thread
from bot.core.wording.messages import approval_request_text
from channels.email.compose import letters_for
from channels.slack.blocks import approval_blocks

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SHA = "4f2c9a1d0b7e6c5a4f2c9a1d0b7e6c5a4f2c9a1d"
COMPARE = "https://github.com/acme/backend/compare/v1.4.1...4f2c9a1d"
CI_URL = f"https://github.com/acme/backend/commit/{SHA}"
CONFIG = """
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
"""

DEPLOY = Plan(
    kind="deploy",
    service="backend",
    environment="production",
    version="v1.4.2",
    sha=SHA,
    subject="fix login timeout",
    previous_version="v1.4.1",
    requester="carol",
)
FIRST = DEPLOY.model_copy(update={"previous_version": None, "version": "v1.0.0"})
ROLLBACK = DEPLOY.model_copy(
    update={"kind": "rollback", "version": "v1.4.0", "previous_version": "v1.4.2"}
)


def commit(n: int, subject: str | None = None, author: str = "Ann Lee") -> CommitInfo:
    sha = hashlib.sha1(str(n).encode()).hexdigest()
    return CommitInfo(sha=sha, subject=subject or f"change {n}", author=author)


def evidence(plan: Plan, **fields: object) -> Evidence:
    return Evidence(live_version=plan.previous_version, requester=plan.requester).model_copy(
        update=fields
    )


CASES: dict[str, tuple[Plan, Evidence]] = {
    "github_green": (
        DEPLOY,
        evidence(
            DEPLOY,
            commits_total=3,
            commits=[
                commit(3, "fix login timeout", "Ann Lee"),
                commit(2, "retry the payment call once", "Bo Chen"),
                commit(1, "log slow queries", "Ann Lee"),
            ],
            compare_url=COMPARE,
            ci_state="success",
            ci_url=CI_URL,
        ),
    ),
    "first_deploy": (
        FIRST,
        evidence(FIRST, commits_total=12, commits=[commit(n) for n in range(12, 7, -1)]),
    ),
    "rollback": (
        ROLLBACK,
        evidence(
            ROLLBACK,
            commits_total=2,
            commits=[commit(2, "fix login timeout"), commit(1, "speed up order search")],
            compare_url="https://github.com/acme/backend/compare/4f2c9a1d...v1.4.2",
            ci_state="failure",
            ci_url="https://ci.example.com/builds/77?x=1&y=2",
        ),
    ),
    "forty_commits": (
        DEPLOY,
        evidence(DEPLOY, commits_total=40, commits=[commit(n) for n in range(40, 35, -1)]),
    ),
    "not_configured": (
        DEPLOY,
        evidence(DEPLOY, note="GitHub is not configured (GITHUB_TOKEN): no commits or CI"),
    ),
    "hostile_subject": (
        DEPLOY,
        evidence(
            DEPLOY,
            commits_total=2,
            commits=[
                commit(2, "<!channel> *bold* & <https://evil.example|click> " + "x" * 90),
                commit(1, "rotate key ghp_" + "A" * 36, "<@U0ALICE>\n*Mallory*"),
            ],
            ci_state="unknown",
            ci_url="javascript:alert(1)",
        ),
    ),
}


@pytest.fixture(scope="module")
def config() -> Config:
    return parse_config(CONFIG, base_dir=Path("/nonexistent"))


def thread_with(plan: Plan, ev: Evidence) -> Thread:
    """A thread as the worker leaves it when it asks approval for ``plan``."""
    return Thread(
        id="t1",
        origin=TerminalOrigin(session="s1"),
        created_at=NOW,
        events=[
            PlanProposed(id="e1", at=NOW, plan=plan, evidence=ev),
            ApprovalRequested(
                id="e2",
                at=NOW,
                plan_hash=plan.plan_hash,
                approvers=["alice", "bob"],
                min_approvals=1,
                expires_at=NOW + timedelta(hours=1),
            ),
        ],
    )


def request_text(config: Config, plan: Plan, ev: Evidence) -> str:
    thread = thread_with(plan, ev)
    request = thread.events[-1]
    assert isinstance(request, ApprovalRequested)
    ids = count(1)
    (message,) = requests_for(
        thread, config=config, plan=plan, request=request, now=NOW, new_id=lambda: f"m{next(ids)}"
    )
    return message.text


def card(plan: Plan) -> ApprovalCard:
    return ApprovalCard(
        plan=plan,
        plan_hash=plan.plan_hash,
        approvers=["alice", "bob"],
        min_approvals=1,
        expires_at=NOW + timedelta(hours=1),
    )


def email_parts(plan: Plan, text: str) -> tuple[str, str]:
    message = OutboundMessage(
        thread_id="t1",
        message_id="m1",
        origin=EmailOrigin(
            address="carol@example.com", subject="deploy backend", message_ids=["<r1@x>"]
        ),
        text=text,
        purpose="approval_request",
        card=card(plan),
    )
    letters = letters_for(
        message, sender="deploybot@example.com", secret=b"k", emails={"alice": "alice@example.com"},
        now=NOW,
    )  # fmt: skip
    alice = next(letter.message for letter in letters if letter.recipient == "alice@example.com")
    return body(alice, "plain"), body(alice, "html")


def body(mail: EmailMessage, subtype: str) -> str:
    part = mail.get_body(preferencelist=(subtype,))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


def slack_json(plan: Plan, ev: Evidence) -> list[dict[str, object]]:
    blocks = approval_blocks(card(plan), thread_id="t1", slack_ids={"bob": "U0BOB"}, evidence=ev)
    return [b.to_dict() for b in blocks]


def rendered(config: Config, name: str) -> str:
    plan, ev = CASES[name]
    text = request_text(config, plan, ev)
    plain, html = email_parts(plan, text)
    blocks = json.dumps(slack_json(plan, ev), indent=2, ensure_ascii=False)
    return (
        f"== terminal ==\n{text}\n\n== email text ==\n{plain}\n== email html ==\n{html}\n"
        f"== slack blocks ==\n{blocks}\n"
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_card_matches_golden(name: str, config: Config) -> None:
    text = rendered(config, name)
    path = GOLDEN / f"evidence_{name}.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path}; run with UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8"), f"card differs from {path}"


def test_without_evidence_the_request_is_unchanged(config: Config) -> None:
    """A plan proposed with no evidence reads exactly as before evidence existed."""
    thread = thread_with(DEPLOY, evidence(DEPLOY)).model_copy(
        update={"events": [PlanProposed(id="e1", at=NOW, plan=DEPLOY), *thread_with(
            DEPLOY, evidence(DEPLOY)).events[1:]]}
    )  # fmt: skip
    request = thread.events[-1]
    assert isinstance(request, ApprovalRequested)
    (message,) = requests_for(
        thread, config=config, plan=DEPLOY, request=request, now=NOW, new_id=lambda: "m1"
    )
    assert message.text == approval_request_text(
        DEPLOY, approvers=["alice", "bob"], min_approvals=1, timeout_s=3600
    )
    assert "Asked by" not in message.text
    plain = [
        b.to_dict()["type"] for b in approval_blocks(card(DEPLOY), thread_id="t1", slack_ids={})
    ]
    assert plain == ["section", "context", "actions"]  # the card as it was before evidence


def test_evidence_of_another_plan_is_not_shown(config: Config) -> None:
    """Only the proposal whose plan hash is the request's lends its evidence."""
    other = DEPLOY.model_copy(update={"version": "v1.4.3"})
    thread = thread_with(DEPLOY, evidence(DEPLOY, note="old")).model_copy(
        update={"events": [PlanProposed(id="e0", at=NOW, plan=other, evidence=evidence(
            other, commits_total=9)), *thread_with(DEPLOY, evidence(DEPLOY, note="mine")).events]}
    )  # fmt: skip
    request = thread.events[-1]
    assert isinstance(request, ApprovalRequested)
    (message,) = requests_for(
        thread, config=config, plan=DEPLOY, request=request, now=NOW, new_id=lambda: "m1"
    )
    assert "Note: mine" in message.text
    assert "9 commits" not in message.text


def test_hostile_subject_stays_text_everywhere(config: Config) -> None:
    """``<!channel>`` never reaches Slack's mrkdwn unescaped, never reaches HTML unescaped;
    a token in a subject is masked; a bad link is dropped."""
    plan, ev = CASES["hostile_subject"]
    blocks = slack_json(plan, ev)
    raw = json.dumps(blocks)
    mrkdwn = [t for t in _texts(blocks, "mrkdwn")]
    assert all("<!channel>" not in t and "<@U0ALICE>" not in t for t in mrkdwn)
    plain = "\n".join(_texts(blocks, "plain_text"))
    assert "<!channel> *bold*" in plain  # shown verbatim, as text Slack does not parse
    assert "ghp_" + "A" * 36 not in raw
    assert "[REDACTED]" in plain
    assert "javascript:" not in raw
    text = request_text(config, plan, ev)
    _, html = email_parts(plan, text)
    assert "<!channel>" not in html
    assert "&lt;!channel&gt;" in html
    assert "javascript:" not in text
    assert max(len(line) for line in text.splitlines()) < 120


def _texts(node: object, kind: str) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == kind and isinstance(node.get("text"), str):
            found.append(node["text"])
        for value in node.values():
            found.extend(_texts(value, kind))
    elif isinstance(node, list):
        for value in node:
            found.extend(_texts(value, kind))
    return found
