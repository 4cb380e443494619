"""next_step(): the pure decision core, through every branch, on hand-built threads."""

from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import pytest

from bot.core.config.config import Config, parse_config
from bot.core.loop.next_step import (
    Apply,
    Decide,
    Describe,
    Execute,
    LockEnvironment,
    Lookup,
    Pause,
    Prefetch,
    Recover,
    ResolvePlan,
    Step,
    UnlockEnvironment,
    next_step,
)
from bot.core.thread.events import (
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
)
from bot.core.thread.intents import AskHuman, Deploy, Done, Intent, ListDeploys, ListTags, Rollback
from bot.core.thread.origin import ApiOrigin
from bot.core.thread.plan import Lineage, Override, Plan
from bot.core.thread.thread import Thread

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CONFIG: Config = parse_config(
    """
[people.alice]
slack = "U0ALICE"
[people.bob]
slack = "U0BOB"
[people.carol]
slack = "U0CAROL"
[services.backend]
repo = "repos/backend"
deploy = ["./deploy.sh", "{service}", "{version}", "{environment}"]
environments = ["staging", "production"]
[services.frontend]
repo = "repos/frontend"
deploy = ["./deploy.sh"]
environments = ["staging"]
[environments.staging]
[environments.production]
approval = true
approvers = ["alice", "bob"]
""",
    base_dir=Path("/srv"),
)
PLAN = Plan(
    kind="deploy",
    service="backend",
    environment="production",
    version="v1.4.2",
    sha="a" * 40,
    previous_version="v1.4.1",
    requester="carol",
)
STAGING = PLAN.model_copy(update={"environment": "staging"})
_n = count()


def ev(cls: type, **fields: object) -> Event:
    return cls(id=f"e{next(_n)}", at=NOW, **fields)  # type: ignore[no-any-return]


def msg(text: str, actor: str = "slack:U0CAROL") -> Event:
    return ev(UserMessage, actor=actor, text=text)


def chosen(intent: Intent, source: str = "model") -> Event:
    return ev(IntentChosen, intent=intent, source=source)


def requested(plan: Plan = PLAN, minutes: int = 60) -> list[Event]:
    return [
        ev(PlanProposed, plan=plan),
        ev(
            ApprovalRequested,
            plan_hash=plan.plan_hash,
            approvers=["alice", "bob"],
            min_approvals=1,
            expires_at=NOW + timedelta(minutes=minutes),
        ),
        ev(MessageSent, text="Plan ...", purpose="approval_request"),
    ]


def step(*events: Event) -> Step:
    thread = Thread(id="t", origin=ApiOrigin(), created_at=NOW, events=list(events))
    return next_step(thread, config=CONFIG, now=NOW, new_id=lambda: f"n{next(_n)}")


def applied(result: Step) -> list[str]:
    assert isinstance(result, Apply), result
    return [e.type for e in result.events]


def said(result: Step) -> str:
    assert isinstance(result, Apply), result
    return " ".join(e.text for e in result.events if isinstance(e, MessageSent))


def test_empty_thread_pauses() -> None:
    assert step() == Pause()


@pytest.mark.parametrize(
    "last",
    [
        ev(MessageSent, text="hi"),
        ev(ApprovalRefused, actor="slack:U0X", reason="no"),
        ev(DeployInterrupted, plan_hash="x"),
    ],
)
def test_after_a_message_the_thread_waits(last: Event) -> None:
    assert step(msg("deploy backend to staging"), last) == Pause()


def test_free_text_prefetches_what_it_names_then_decides() -> None:
    assert step(msg("could you ship the backend please")) == Prefetch(services=["backend"])
    assert step(msg("ship everything")) == Prefetch(services=["backend", "frontend"])
    assert step(msg("ship backend"), ev(TagsListed, service="backend", tags=[])) == Decide()


def test_cron_and_webhook_requests_use_the_grammar_too() -> None:
    result = step(ev(CronFired, schedule="nightly", instruction="deploy backend to staging"))
    assert applied(result) == ["intent_chosen"]


def test_exact_commands_skip_the_model() -> None:
    result = step(msg("deploy backend v1.4.2 to production"))
    assert isinstance(result, Apply)
    event = result.events[0]
    assert isinstance(event, IntentChosen)
    assert event.source == "grammar"
    assert event.intent == Deploy(service="backend", environment="production", version="v1.4.2")
    assert "I understand these commands" in said(step(msg("help")))
    assert said(step(msg("status"))).startswith("Nothing is in progress")
    assert applied(step(msg("rollback backend in production"))) == ["intent_chosen"]
    assert step(msg("lock production freeze")) == LockEnvironment(
        environment="production",
        reason="freeze",
        person="carol",
        actor="slack:U0CAROL",
    )
    assert step(msg("unlock production")) == UnlockEnvironment(
        environment="production", person="carol", actor="slack:U0CAROL"
    )
    assert step(msg("where can I deploy backend")) == Describe(service="backend")
    assert "I don't know U0NOBODY" in said(step(msg("unlock production", actor="slack:U0NOBODY")))


@pytest.mark.parametrize(
    ("intent", "expected"),
    [
        (ListTags(service="backend"), Lookup(intent=ListTags(service="backend"))),
        (
            ListDeploys(service="backend", environment="staging"),
            Lookup(intent=ListDeploys(service="backend", environment="staging")),
        ),
        (
            Deploy(service="backend", environment="production"),
            ResolvePlan(
                intent=Deploy(service="backend", environment="production"), requester="carol"
            ),
        ),
        (
            Rollback(service="backend", environment="staging"),
            ResolvePlan(
                intent=Rollback(service="backend", environment="staging"), requester="carol"
            ),
        ),
    ],
)
def test_intents_that_need_io(intent: Intent, expected: Step) -> None:
    assert step(msg("free text"), chosen(intent)) == expected


@pytest.mark.parametrize(
    ("intent", "purpose"),
    [
        (AskHuman(message="Which version?"), "question"),
        (Done(message="Nothing to do."), "result"),
    ],
)
def test_ask_human_and_done_send_their_message(intent: AskHuman | Done, purpose: str) -> None:
    result = step(msg("x"), chosen(intent))
    assert isinstance(result, Apply)
    [sent] = result.events
    assert isinstance(sent, MessageSent)
    assert (sent.text, sent.purpose) == (intent.message, purpose)


@pytest.mark.parametrize(
    "intent",
    [
        Deploy(service="payments", environment="production"),
        Deploy(service="frontend", environment="production"),  # not an environment of frontend
        ListTags(service="billing"),
    ],
)
def test_intents_outside_the_config_become_errors(intent: Intent) -> None:
    assert applied(step(msg("x"), chosen(intent))) == ["error_recorded"]


def test_unknown_requester_is_refused_even_when_the_model_chooses_deploy() -> None:
    result = step(
        msg("deploy it", actor="slack:U0MALLORY"),
        chosen(Deploy(service="backend", environment="staging")),
    )
    assert isinstance(result, Apply)
    error = result.events[0]
    assert isinstance(error, ErrorRecorded)
    assert error.kind == "refused"


def test_a_plan_for_production_asks_for_approval_and_staging_runs() -> None:
    result = step(msg("x"), ev(PlanProposed, plan=PLAN))
    assert applied(result) == ["approval_requested", "message_sent"]
    assert "needs 1 approval from: alice, bob (not carol)" in said(result)
    assert step(msg("x"), ev(PlanProposed, plan=STAGING)) == Execute(plan=STAGING)


def test_approval_flow() -> None:
    base = [msg("deploy backend to production"), *requested()]
    approve = step(*base, msg("approve", actor="slack:U0ALICE"))
    assert applied(approve) == ["approval_decided"]
    assert isinstance(approve, Apply)
    assert step(*base, msg("approve", actor="slack:U0ALICE"), *approve.events) == Execute(plan=PLAN)
    assert applied(step(*base, msg("approve", actor="slack:U0CAROL"))) == [
        "approval_refused",
        "message_sent",
    ]
    reject = step(*base, msg("reject too risky", actor="slack:U0BOB"))
    assert isinstance(reject, Apply)
    assert "rejected by bob: too risky" in said(step(*base, *reject.events))


def test_approve_with_the_wrong_plan_id_or_nothing_waiting() -> None:
    base = [msg("deploy backend to production"), *requested()]
    assert "is no longer waiting" in said(step(*base, msg("approve ffff", actor="slack:U0BOB")))
    assert said(step(msg("approve", actor="slack:U0BOB"))) == (
        "Nothing in this thread is waiting for approval."
    )


def test_a_newer_plan_supersedes_the_open_request() -> None:
    newer = PLAN.model_copy(update={"version": "v1.4.1"})
    events = [msg("x"), *requested(), ev(PlanProposed, plan=newer)]
    assert "Nothing in this thread is waiting" in said(
        step(*events, msg("approve", actor="slack:U0BOB"))
    )


def test_unfinished_deploy_is_reported_as_unknown_before_anything_else() -> None:
    events = [
        msg("x"),
        *requested(),
        ev(
            ApprovalDecided,
            plan_hash=PLAN.plan_hash,
            actor="slack:U0BOB",
            person="bob",
            decision="approve",
        ),
        ev(
            LockChanged,
            service="backend",
            environment="production",
            action="acquired",
            fencing_token=1,
        ),
        ev(DeployStarted, plan_hash=PLAN.plan_hash, idempotency_key="k", fencing_token=1),
        msg("status"),
    ]
    result = step(*events)
    # The shell finds out what it can (history, the status command) or records it as
    # interrupted; the reducer never runs it again.
    assert result == Recover(started=events[-2], plan=PLAN)  # type: ignore[arg-type]


def test_a_finished_deploy_reports_its_result() -> None:
    events = [
        msg("x"),
        ev(PlanProposed, plan=STAGING),
        ev(DeployStarted, plan_hash=STAGING.plan_hash, idempotency_key="k", fencing_token=1),
        ev(
            DeployFinished,
            plan_hash=STAGING.plan_hash,
            result="succeeded",
            exit_code=0,
            duration_s=2.14,
            output_tail="warming\nbackend v1.4.2 is live",
        ),
        ev(
            LockChanged,
            service="backend",
            environment="staging",
            action="released",
            fencing_token=1,
        ),
    ]
    assert said(step(*events)) == (
        "Deploying backend v1.4.2 to staging ... ok in 2.1 s. Last output: "
        '"backend v1.4.2 is live".'
    )


def test_errors_on_the_grammar_path_go_straight_to_the_person() -> None:
    events = [
        msg("deploy backend v9 to staging"),
        chosen(Deploy(service="backend", environment="staging", version="v9"), "grammar"),
        ev(ErrorRecorded, kind="tool_failed", message="backend has no tag v9"),
    ]
    assert said(step(*events)) == "backend has no tag v9"


def test_model_errors_are_retried_then_a_human_is_asked() -> None:
    bad = ev(ErrorRecorded, kind="invalid_output", message="no tool call")
    assert step(msg("x"), bad) == Decide()
    assert step(msg("x"), bad, bad) == Decide()
    result = step(msg("x"), bad, bad, bad)
    assert isinstance(result, Apply)
    last = result.events[0]
    assert isinstance(last, IntentChosen)
    assert last.source == "system"
    assert "after 3 tries" in last.intent.message  # type: ignore[union-attr]


def test_model_unavailable_is_said_at_once() -> None:
    error = ev(ErrorRecorded, kind="model_unavailable", message="overloaded (529)")
    assert said(step(msg("x"), error)).startswith("I couldn't reach Claude (overloaded (529)).")


def test_grammar_lookups_are_answered_directly_model_lookups_continue() -> None:
    history = ev(HistoryListed, service="backend", environment="staging", deploys=[])
    grammar = [
        msg("deploys backend in staging"),
        chosen(ListDeploys(service="backend", environment="staging"), "grammar"),
    ]
    assert said(step(*grammar, history)) == "No deploys of backend to staging yet."
    model = [
        msg("what is on staging?"),
        chosen(ListDeploys(service="backend", environment="staging")),
    ]
    assert step(*model, history) == Decide()


def test_plan_hash_binds_every_field() -> None:
    changes = {
        "kind": "rollback",
        "service": "frontend",
        "environment": "staging",
        "version": "v1.4.1",
        "sha": "b" * 40,
        "subject": "x",
        "previous_version": None,
        "requester": "alice",
        "attempt": 2,
        "previous_sha": "c" * 40,
        "lineage": Lineage(relation="diverged", missing=3),
        "overrides": (Override(kind="break_glass", person="alice", reason="outage"),),
        "ahead": "queued",
    }
    assert set(changes) == set(Plan.model_fields), "a new Plan field must be in plan_hash"
    seen = {PLAN.plan_hash}
    for field, value in changes.items():
        changed = PLAN.model_copy(update={field: value})
        assert changed.plan_hash not in seen, field
        seen.add(changed.plan_hash)


def test_timers_remind_and_expire_only_an_open_request() -> None:
    from bot.core.thread.events import TimerFired

    base = [msg("deploy backend to production"), *requested()]
    remind = ev(TimerFired, kind="remind", plan_hash=PLAN.plan_hash)
    expire = ev(TimerFired, kind="expire", plan_hash=PLAN.plan_hash)
    assert said(step(*base, remind)).startswith(f"Reminder: plan #{PLAN.short_id}")
    result = step(*base, expire)
    assert "expired at 10:00 UTC" in said(result)
    assert isinstance(result, Apply)
    assert result.events[0].replaces == base[-1].id  # type: ignore[union-attr]
    decided = ev(
        ApprovalDecided,
        plan_hash=PLAN.plan_hash,
        actor="slack:U0BOB",
        person="bob",
        decision="reject",
    )
    assert step(*base, decided, msg("x"), expire) == Pause()
    newer = PLAN.model_copy(update={"version": "v1.4.1"})
    assert step(*base, *requested(newer), remind) == Pause()  # superseded


def test_a_late_decision_naming_its_plan_says_why() -> None:
    base = [msg("deploy backend to production"), *requested()]
    late = f"approve #{PLAN.plan_hash}"
    rejected = ev(
        ApprovalDecided,
        plan_hash=PLAN.plan_hash,
        actor="slack:U0BOB",
        person="bob",
        decision="reject",
    )
    assert said(step(*base, rejected, msg(late, actor="slack:U0ALICE"))) == (
        f"Plan #{PLAN.short_id} was rejected by bob; nothing was changed."
    )
    started = ev(DeployStarted, plan_hash=PLAN.plan_hash, idempotency_key="k", fencing_token=1)
    finished = ev(
        DeployFinished,
        plan_hash=PLAN.plan_hash,
        result="succeeded",
        exit_code=0,
        duration_s=1,
        output_tail="",
    )
    assert "already approved and deployed" in said(
        step(*base, started, finished, msg(late, actor="slack:U0ALICE"))
    )
    assert said(step(msg(f"approve #{'f' * 16}", actor="slack:U0ALICE"))) == (
        "Nothing in this thread is waiting for approval."
    )
