"""The App Home view (pure): who sees which buttons, what each pair shows, escaping, the cap."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.config.config import Config, parse_config
from bot.core.policy.approval import Allowed, check_decision
from bot.core.ports.board import (
    ActiveFreeze,
    Board,
    EnvironmentBoard,
    Held,
    PairBoard,
    QueuedPlan,
    SoakProgress,
    Waiting,
)
from bot.core.ports.outbound import ApprovalCard
from bot.core.thread.events import ApprovalRequested
from bot.core.thread.plan import DeployRecord, Plan, Quarantined
from bot.core.thread.text.actor import Actor
from bot.core.thread.thread import OpenApproval
from channels.slack.blocks import approval_blocks
from channels.slack.home.lines import when
from channels.slack.home.view import MAX_BLOCKS, fingerprint, home_view, stranger_view

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
IDS = {"alice": "U0ALICE", "bob": "U0BOB", "carol": "U0CAROL"}


def config(*, self_approval: bool = False, min_approvals: int = 1) -> Config:
    return parse_config(
        f"""
[people]
alice = {{ slack = "U0ALICE" }}
bob = {{ slack = "U0BOB" }}
carol = {{ slack = "U0CAROL" }}
dave = {{ email = "dave@example.com" }}
[services.backend]
repo = "r"
deploy = ["./d"]
environments = ["staging", "production"]
[services.frontend]
repo = "r"
deploy = ["./d"]
environments = ["staging", "production"]
[environments.staging]
approval = false
[environments.production]
approval = true
approvers = ["alice", "bob", "dave"]
min_approvals = {min_approvals}
self_approval = {str(self_approval).lower()}
""",
        base_dir=Path("/srv"),
    )


def plan(*, requester: str = "alice", version: str = "v1.4.2", **more: Any) -> Plan:
    fields: dict[str, Any] = {
        "kind": "deploy",
        "service": "backend",
        "environment": "production",
        "version": version,
        "sha": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
        "subject": "fix login timeout",
        "previous_version": "v1.4.1",
        "requester": requester,
    }
    return Plan(**(fields | more))


def waiting(
    p: Plan,
    *,
    thread_id: str = "s0123456789ab",
    approved_by: tuple[str, ...] = (),
    expires_in_s: float = 1800,
    min_approvals: int = 1,
) -> Waiting:
    request = ApprovalRequested(
        id=f"req-{p.plan_hash}",
        at=NOW - timedelta(minutes=5),
        plan_hash=p.plan_hash,
        approvers=[a for a in ("alice", "bob", "dave") if a != p.requester],  # as policy asks
        min_approvals=min_approvals,
        expires_at=NOW + timedelta(seconds=expires_in_s),
    )
    approval = OpenApproval(plan=p, request=request, approved_by=list(approved_by))
    return Waiting(thread_id=thread_id, approval=approval)


def board(*pairs: PairBoard, environments: list[EnvironmentBoard] | None = None) -> Board:
    envs = environments or [EnvironmentBoard(name="staging"), EnvironmentBoard(name="production")]
    return Board(at=NOW, environments=envs, pairs=list(pairs))


def production(**facts: Any) -> PairBoard:
    return PairBoard(service="backend", environment="production", **facts)


def view(b: Board, viewer: str, cfg: Config | None = None) -> dict[str, Any]:
    return home_view(b, viewer=viewer, config=cfg or config(), slack_ids=IDS).to_dict()


def buttons(shown: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (e["action_id"], e["value"])
        for b in shown["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    ]


def text(shown: dict[str, Any]) -> str:
    return json.dumps(shown["blocks"], ensure_ascii=False)


# -- who is offered which decision -----------------------------------------------------------

CASES = [
    # (viewer, requester, self_approval, approved_by, min_approvals, offered, listed as theirs)
    ("U0BOB", "alice", False, (), 1, ["deploybot_approve", "deploybot_reject"], False),
    ("U0ALICE", "alice", False, (), 1, [], True),  # their own, self-approval off
    ("U0ALICE", "alice", True, (), 1, ["deploybot_approve", "deploybot_reject"], False),
    ("U0CAROL", "alice", False, (), 1, [], False),  # not an approver
    ("U0BOB", "alice", False, ("bob",), 2, [], False),  # approved already, one more needed
    ("U0ALICE", "carol", False, ("bob",), 2, ["deploybot_approve", "deploybot_reject"], False),
]


@pytest.mark.parametrize(
    ("viewer", "requester", "self_approval", "approved_by", "needed", "offered", "theirs"), CASES
)
def test_only_decisions_the_viewer_may_take_get_buttons(
    viewer: str,
    requester: str,
    self_approval: bool,
    approved_by: tuple[str, ...],
    needed: int,
    offered: list[str],
    theirs: bool,
) -> None:
    cfg = config(self_approval=self_approval, min_approvals=needed)
    w = waiting(plan(requester=requester), approved_by=approved_by, min_approvals=needed)
    shown = view(board(production(waiting=[w])), viewer, cfg)
    assert [action for action, _ in buttons(shown)] == offered
    # The one check every channel asks agrees with what is offered.
    verdict = check_decision(
        config=cfg,
        open_approval=w.approval,
        actor=Actor.of("slack", viewer),
        decision="approve",
        now=NOW,
    )
    assert isinstance(verdict, Allowed) == bool(offered)
    assert ("*Your requests*" in text(shown)) == theirs
    assert ("Waiting for your approval" in text(shown)) == bool(offered)
    assert "1 waiting for approval" in text(shown)  # the pair says so to everyone


def test_the_buttons_are_the_cards_own() -> None:
    p = plan()
    w = waiting(p, thread_id="s00000000abcd")
    card = ApprovalCard(
        plan=p,
        plan_hash=p.plan_hash,
        approvers=["alice", "bob", "dave"],
        min_approvals=1,
        expires_at=w.approval.request.expires_at,
    )
    on_card = [
        (e.action_id, e.value)
        for b in approval_blocks(card, thread_id="s00000000abcd", slack_ids=IDS)
        if b.type == "actions"
        for e in b.elements  # type: ignore[attr-defined]
    ]
    assert buttons(view(board(production(waiting=[w])), "U0BOB")) == on_card
    assert on_card[0][1] == f"s00000000abcd:{p.plan_hash}"


def test_an_expired_request_is_offered_to_nobody() -> None:
    w = waiting(plan(), expires_in_s=0)
    for viewer in ("U0BOB", "U0ALICE"):
        shown = view(board(production(waiting=[w])), viewer)
        assert buttons(shown) == []
        assert "Your requests" not in text(shown)


def test_requests_are_listed_soonest_to_expire_first() -> None:
    late = waiting(plan(version="v1.4.2"), thread_id="slate", expires_in_s=3000)
    soon = waiting(plan(version="v1.4.3"), thread_id="ssoon", expires_in_s=600)
    shown = view(board(production(waiting=[late, soon])), "U0BOB")
    assert [value.partition(":")[0] for _, value in buttons(shown)][::2] == ["ssoon", "slate"]


# -- what each pair and environment shows ----------------------------------------------------


def record(version: str, *, result: str = "succeeded", at: datetime, **more: Any) -> DeployRecord:
    fields: dict[str, Any] = {
        "thread_id": "t1",
        "kind": "deploy",
        "version": version,
        "sha": "a" * 40,
        "requester": "alice",
        "approvers": ["bob"],
        "result": result,
        "at": at.isoformat(),
    }
    return DeployRecord(**(fields | more))


FIELDS = [
    (
        production(live=record("v1.4.2", at=NOW - timedelta(minutes=25))),
        ["*production*", "`v1.4.2` since 09:05 UTC, by <@U0ALICE>, approved by <@U0BOB>"],
    ),
    (
        production(
            live=record("v1.4.0", at=datetime(2026, 11, 1, 23, 0, tzinfo=UTC), approvers=[])
        ),
        ["`v1.4.0` since 1 Nov 23:00 UTC, by <@U0ALICE>"],
    ),
    (production(), ["nothing live yet"]),
    (
        production(
            live=record("v1.4.1", at=NOW - timedelta(hours=2)),
            latest=record("v1.4.3", result="timed_out", at=NOW - timedelta(minutes=3)),
        ),
        ["`v1.4.1` since 07:30 UTC", ":warning: deploy of `v1.4.3` timed out at 09:27 UTC"],
    ),
    (
        production(
            deploying=Held(who="bob", why="deploy backend v1.4.3", since=NOW, thread_id="t2")
        ),
        [":arrows_counterclockwise: deploy backend v1.4.3 for <@U0BOB> since 09:30 UTC"],
    ),
    (
        production(
            deploying=Held(who="dave", why="interrupted deploy", since=NOW, interrupted=True)
        ),
        [":double_vertical_bar: held: interrupted deploy for dave since 09:30 UTC"],
    ),
    (
        production(
            quarantined=[
                Quarantined(
                    version=f"v1.3.{i}", sha=f"{i}" * 40, by="verification", reason="5xx", at="x"
                )
                for i in range(5)
            ]
        ),
        [":no_entry_sign: quarantined: `v1.3.0`, `v1.3.1`, `v1.3.2` (+2 more)"],
    ),
    (
        production(
            queue=[
                QueuedPlan(thread_id=f"t{i}", plan_hash=f"{i}" * 16, version=v, requester=who)
                for i, (v, who) in enumerate(
                    [("v1.5.0", "carol"), ("v1.5.1", "dave"), ("v1.5.2", "bob"), ("v1.6.0", "bob")]
                )
            ]
        ),
        [":busstop: queued: `v1.5.0` (<@U0CAROL>), `v1.5.1` (dave), `v1.5.2` (<@U0BOB>) (+1 more)"],
    ),
    (
        production(
            soak=SoakProgress(version="v1.4.2", since=NOW, done_at=NOW + timedelta(hours=1))
        ),
        [":seedling: soak of `v1.4.2`: soaking until 10:30 UTC"],
    ),
    (
        production(soak=SoakProgress(version="v1.4.2", note="rolled back in staging")),
        [":seedling: soak of `v1.4.2`: rolled back in staging"],
    ),
]


@pytest.mark.parametrize(("pair", "parts"), FIELDS)
def test_a_pair_shows_its_facts(pair: PairBoard, parts: list[str]) -> None:
    [section] = [
        b
        for b in view(board(pair), "U0CAROL")["blocks"]
        if b.get("text", {}).get("text") == "*backend*"
    ]
    [field] = section["fields"]
    for part in parts:
        assert part in field["text"]


ENVIRONMENTS = [
    (EnvironmentBoard(name="production"), "• *production*: open"),
    (
        EnvironmentBoard(
            name="production",
            locked=Held(who="alice", why="release day", since=NOW - timedelta(minutes=90)),
        ),
        "• *production*: :lock: locked by <@U0ALICE> (release day) since 08:00 UTC",
    ),
    (
        EnvironmentBoard(
            name="production",
            freezes=[
                ActiveFreeze(
                    name="weekend", reason="no weekend deploys", until=NOW + timedelta(days=2)
                )
            ],
        ),
        "• *production*: :snowflake: frozen (weekend: no weekend deploys) until 4 Nov 09:30 UTC",
    ),
]


@pytest.mark.parametrize(("env", "line"), ENVIRONMENTS)
def test_an_environment_shows_its_lock_and_freezes(env: EnvironmentBoard, line: str) -> None:
    assert line in text(view(board(environments=[env]), "U0CAROL"))


def test_outside_text_is_escaped_as_on_the_card() -> None:
    nasty = "<!channel> *now* & <https://evil.example|click>"
    pair = production(
        deploying=Held(who="bob", why=nasty, since=NOW),
        quarantined=[Quarantined(version="v1<!here>", sha="b" * 40, by="x", reason=nasty, at="x")],
        waiting=[waiting(plan(subject=nasty))],
    )
    env = EnvironmentBoard(name="production", locked=Held(who="alice", why=nasty, since=NOW))
    shown = text(view(board(pair, environments=[env]), "U0BOB"))
    for raw in ("<!channel>", "<!here>", "<https://evil"):
        assert raw not in shown
    assert "&lt;!channel&gt;" in shown


# -- the cap, strangers, fingerprints ------------------------------------------------------


def test_a_long_board_keeps_whole_items_and_says_how_many_more() -> None:
    many = [waiting(plan(version=f"v2.0.{i}"), thread_id=f"s{i:012d}") for i in range(60)]
    shown = view(board(production(waiting=many)), "U0BOB")
    blocks = shown["blocks"]
    assert len(blocks) <= MAX_BLOCKS
    offered = [b for b in blocks if b["type"] == "actions"]
    last = blocks[-1]["elements"][0]["text"]
    assert last.startswith("+")
    left_out = int(last[1:].split()[0])
    # Every request is either shown whole (its plan, its notes, its buttons) or counted.
    assert len(offered) + left_out - 2 == 60  # the environments and the service also left
    for i, block in enumerate(blocks):
        if block["type"] == "actions":
            assert blocks[i - 2]["type"] == "section"
    assert len({b["block_id"] for b in offered}) == len(offered)


def test_someone_not_in_people_sees_why_there_is_nothing() -> None:
    shown = stranger_view(viewer="U0MALLORY").to_dict()
    assert shown["type"] == "home"
    assert "<@U0MALLORY>, you are not in deploybot's list of people" in text(shown)
    assert buttons(shown) == []


def test_the_fingerprint_follows_what_is_shown() -> None:
    quiet = board(production())
    held = board(production(deploying=Held(who="bob", why="deploy", since=NOW)))
    same = home_view(quiet, viewer="U0BOB", config=config(), slack_ids=IDS)
    again = home_view(quiet, viewer="U0BOB", config=config(), slack_ids=IDS)
    other = home_view(held, viewer="U0BOB", config=config(), slack_ids=IDS)
    assert fingerprint(same) == fingerprint(again)
    assert fingerprint(same) != fingerprint(other)


@pytest.mark.parametrize(
    ("moment", "shown"),
    [
        (NOW, "09:30 UTC"),
        (datetime(2026, 11, 2, 0, 0, tzinfo=UTC), "00:00 UTC"),
        (datetime(2026, 11, 1, 23, 59, tzinfo=UTC), "1 Nov 23:59 UTC"),
        (datetime(2026, 11, 2, 10, 30, tzinfo=UTC).astimezone(), "10:30 UTC"),
    ],
)
def test_times_are_utc_with_the_day_when_not_today(moment: datetime, shown: str) -> None:
    assert when(moment, NOW) == shown


def test_your_own_request_names_who_it_waits_for() -> None:
    mine = waiting(plan(requester="alice"), approved_by=("bob",), min_approvals=2)
    shown = text(view(board(production(waiting=[mine])), "U0ALICE", config(min_approvals=2)))
    assert "waiting for dave; expires 10:00 UTC" in shown
