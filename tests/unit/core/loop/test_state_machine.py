"""The pure reducer under random interleavings: approvals, duplicates, expiries, crashes.

A hypothesis state machine drives ``next_step`` (no Redis, no I/O) the way the worker does:
an inbound event is appended unless its id is already in the thread (a redelivery), then the
steps run until ``Pause``. The shell's part is played by ``_Shell`` below (deploys succeed,
fail or crash after ``deploy_started`` was saved; plans are built with the real
``build_plan`` from fixed tags and a history the test keeps). After every rule the thread is
checked against the safety invariants, each recomputed from the events and the config
without asking the code under test (see ``_check_*``).
"""

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Literal, assert_never

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from bot.core.config.config import Config, parse_config
from bot.core.errors import ToolFailed
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
    Release,
    ResolvePlan,
    Step,
    UnlockEnvironment,
    Verify,
    next_step,
)
from bot.core.loop.planning import build_plan
from bot.core.policy.approval import Refused
from bot.core.policy.live import check_live_state
from bot.core.thread.events import (
    ApprovalDecided,
    ApprovalEscalated,
    ApprovalRequested,
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
    Purpose,
    TagsListed,
    TimerFired,
    UserMessage,
)
from bot.core.thread.intents import AskHuman, Deploy, Done, Intent, ListDeploys, ListTags, Rollback
from bot.core.thread.origin import ApiOrigin
from bot.core.thread.plan import DeployRecord, Plan, Tag
from bot.core.thread.text.actor import Actor
from bot.core.thread.thread import Thread, derive_status

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CONFIG: Config = parse_config(
    """
[people.alice]
slack = "U0ALICE"
email = "alice@example.com"
[people.bob]
slack = "U0BOB"
[people.dave]
slack = "U0DAVE"
[people.carol]
slack = "U0CAROL"
[people.erin]
slack = "U0ERIN"
[services.backend]
repo = "repos/backend"
deploy = ["./deploy.sh", "{service}", "{version}", "{environment}"]
environments = ["staging", "canary", "production"]
[environments.staging]
[environments.canary]
approval = true
approvers = ["alice", "bob"]
min_approvals = 1
self_approval = true
approval_timeout_s = 1800
escalate_approvers = ["erin"]
escalate_after_s = 600
[environments.production]
approval = true
approvers = ["alice", "bob", "dave"]
min_approvals = 2
self_approval = false
approval_timeout_s = 3600
""",
    base_dir=Path("/srv"),
)
TAGS = [Tag(name=f"v1.{n}.0", sha=f"{n:x}" * 40, subject=f"release {n}") for n in (3, 2, 1, 0)]
ENVIRONMENTS = ["staging", "canary", "production"]
PEOPLE = ["alice", "bob", "dave", "carol", "erin"]
# Each person answers from several channels; strangers are nobody in [people].
ACTORS = [
    *(f"slack:U0{p.upper()}" for p in PEOPLE),
    "email:alice@example.com",
    "terminal:bob",
    "api:dave",
    "api:carol",
]
STRANGERS = ["slack:U0MALLORY", "email:mallory@example.com", "api:nobody"]
MAX_STEPS = 40

actors = st.sampled_from(ACTORS + STRANGERS)
# Deciders: half the time someone who may decide somewhere, so that plans do get approved.
deciders = st.one_of(
    st.sampled_from(["slack:U0ALICE", "email:alice@example.com", "terminal:bob", "api:dave"]),
    actors,
)
# Which plan something names: one proposed earlier (by index) or no plan at all.
other_refs = st.one_of(
    st.integers(min_value=0, max_value=20).map(lambda i: f"old:{i}"), st.just("random")
)
# Decisions name the open plan more often than not.
plan_refs = st.one_of(st.just("open"), st.just("open"), other_refs)
luck = st.integers(min_value=0, max_value=2**32 - 1)


@dataclass
class _Shell:
    """The runner's part: lookups, plans, the idempotency claim and the deploy itself."""

    history: dict[str, list[DeployRecord]] = field(default_factory=dict)
    claimed: set[str] = field(default_factory=set)  # Redis SET NX: survives crashes
    crashes: int = 0
    outcomes: list[str] = field(default_factory=list)  # forced outcomes, for hand-run tests

    def of(self, environment: str) -> list[DeployRecord]:
        return self.history.setdefault(environment, [])


class ReducerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = START
        self.ids = count()
        self.thread = Thread(id="t1", origin=ApiOrigin(), created_at=START)
        self.shell = _Shell()
        self.delivered: list[Event] = []  # every inbound event, for duplicates
        self.unsaved: list[Event] = []  # inbound events whose turn crashed: redelivered later

    # -- the worker ---------------------------------------------------------------------

    def new_id(self) -> str:
        return f"n{next(self.ids)}"

    def deliver(self, event: Event, seed: int) -> None:
        """One turn, as bot.shell.loop.worker does it: skip a known id, advance, save at the end."""
        rng = random.Random(seed)
        thread = self.thread.model_copy(deep=True)
        if not thread.has_event(event.id):
            thread.events.append(event)
        self.delivered.append(event)
        saved = self.advance(thread, rng)
        if saved is None or rng.random() < 0.1:
            # The worker died before the turn's save: only a write-ahead save of a
            # deploy_started made in the turn (already in self.thread) survives, and the
            # stream hands the entry to another worker later.
            self.unsaved.append(event)
            return
        self.thread = saved

    def advance(self, thread: Thread, rng: random.Random) -> Thread | None:
        for _ in range(MAX_STEPS):
            unfinished = _unfinished(thread.events)
            step = next_step(thread, config=CONFIG, now=self.now, new_id=self.new_id)
            if unfinished is not None:
                self.recover(thread, step, unfinished)
                continue
            match step:
                case Pause():
                    return thread
                case Apply(events=events):
                    thread.events.extend(events)
                case Decide() | Prefetch():
                    thread.events.append(self.model(rng))
                case Lookup(intent=lookup):
                    thread.events.append(self.look_up(lookup))
                case ResolvePlan(intent=intent, requester=requester):
                    thread.events.append(self.resolve(thread, intent, requester))
                case Execute(plan=plan):
                    if not self.execute(thread, plan, rng):
                        return None
                case LockEnvironment() | UnlockEnvironment() | Describe() | Verify() | Release():
                    return thread  # not asked for by any rule here (no checks configured)
                case Recover():
                    raise AssertionError(f"recovery with no unfinished deploy: {step}")
                case _:
                    assert_never(step)
        raise AssertionError(f"the loop did not pause in {MAX_STEPS} steps")

    def look_up(self, intent: ListTags | ListDeploys) -> Event:
        match intent:
            case ListTags(service=s):
                return TagsListed(id=self.new_id(), at=self.now, service=s, tags=TAGS)
            case ListDeploys(service=s, environment=e):
                deploys = self.shell.of(e)[:5]
                return HistoryListed(
                    id=self.new_id(), at=self.now, service=s, environment=e, deploys=deploys
                )
            case _:
                assert_never(intent)

    def model(self, rng: random.Random) -> IntentChosen:
        """A model that may propose anything the config allows, whoever is asking."""
        choices: list[Intent] = [
            AskHuman(message="Which version?"),
            ListTags(service="backend"),
            Done(message="Nothing to do."),
            Deploy(service="backend", environment="production", version=None),
            Rollback(service="backend", environment="production", version=None),
            Deploy(service="backend", environment=rng.choice(ENVIRONMENTS), version="v1.3.0"),
        ]
        intent = rng.choice(choices)
        return IntentChosen(id=self.new_id(), at=self.now, intent=intent, source="model")

    def resolve(self, thread: Thread, intent: Deploy | Rollback, requester: str) -> Event:
        """bot.shell.loop.turn's plan: from the tags and history, a new attempt if it ran before."""
        try:
            plan = build_plan(
                intent, tags=TAGS, history=self.shell.of(intent.environment), requester=requester
            )
        except ToolFailed as exc:
            return ErrorRecorded(
                id=self.new_id(), at=self.now, kind="tool_failed", message=str(exc)
            )
        return PlanProposed(id=self.new_id(), at=self.now, plan=thread.fresh_attempt(plan))

    def execute(self, thread: Thread, plan: Plan, rng: random.Random) -> bool:
        """bot.shell.loop.turn._execute in small: re-check, claim, start (saved), run, finish.

        False: the worker died after ``deploy_started`` was saved.
        """
        # A started plan never runs again: not the reducer's to ask (the claim would refuse).
        assert not thread.started(plan.plan_hash), f"Execute for a started plan: {plan}"
        history = self.shell.of(plan.environment)
        verdict = check_live_state(plan, history=history, tags=TAGS, now=self.now)
        if isinstance(verdict, Refused):
            thread.events.append(self.say(f"did not run: {verdict.reason}", "error"))
            intent: Deploy | Rollback = (
                Deploy(service=plan.service, environment=plan.environment, version=plan.version)
                if plan.kind == "deploy"
                else Rollback(
                    service=plan.service, environment=plan.environment, version=plan.version
                )
            )
            thread.events.append(self.resolve(thread, intent, plan.requester))
            return True
        if plan.plan_hash in self.shell.claimed:
            thread.events.append(
                ErrorRecorded(
                    id=self.new_id(), at=self.now, kind="refused", message="started once already"
                )
            )
            return True
        self.shell.claimed.add(plan.plan_hash)
        thread.events.extend(
            [
                self.lock_event(plan, "acquired"),
                DeployStarted(
                    id=self.new_id(),
                    at=self.now,
                    plan_hash=plan.plan_hash,
                    idempotency_key=f"{thread.id}:{plan.plan_hash}",
                    fencing_token=1,
                ),
                self.say("Deploying ...", "progress"),
            ]
        )
        self.thread = thread.model_copy(deep=True)  # the write-ahead save of deploy_started
        outcome = (
            self.shell.outcomes.pop(0)
            if self.shell.outcomes
            else rng.choice(["succeeded", "succeeded", "failed", "crash", "crash after"])
        )
        if outcome == "crash":  # the worker died while the command ran
            self.shell.crashes += 1
            return False
        result: Literal["succeeded", "failed"] = "failed" if outcome == "failed" else "succeeded"
        self.shell.of(plan.environment).insert(
            0,
            DeployRecord(
                thread_id=thread.id,
                kind=plan.kind,
                version=plan.version,
                sha=plan.sha,
                requester=plan.requester,
                result=result,
                at=self.now.isoformat(),
            ),
        )
        if outcome == "crash after":  # died after the history, before the thread was saved
            self.shell.crashes += 1
            return False
        thread.events.append(self.finished(plan, result))
        thread.events.append(self.lock_event(plan, "released"))
        return True

    def recover(self, thread: Thread, step: Step, unfinished: DeployStarted) -> None:
        """A crash left a deploy without its result: it is reported, never run again.

        The reducer either records it as interrupted itself (``Apply``) or asks the shell to
        find out (a ``Recover`` step: the result from the history when the command finished
        before the worker died, else interrupted).
        """
        if isinstance(step, Apply):
            first = step.events[0]
            assert isinstance(first, DeployInterrupted), step
            assert first.plan_hash == unfinished.plan_hash
            thread.events.extend(step.events)
            return
        assert isinstance(step, Recover), step  # never Execute, nor anything else first
        started, plan = step.started, step.plan
        assert started == unfinished
        assert plan == thread.plan(started.plan_hash)
        known = next(
            (
                r
                for r in self.shell.of(plan.environment)
                if r.thread_id == thread.id and r.sha == plan.sha and r.at >= started.at.isoformat()
            ),
            None,
        )
        if known is not None and known.result in ("succeeded", "failed"):
            thread.events.append(
                self.finished(plan, "succeeded" if known.result == "succeeded" else "failed")
            )
            return
        interrupted = DeployInterrupted(id=self.new_id(), at=self.now, plan_hash=plan.plan_hash)
        thread.events.extend([interrupted, self.say("outcome unknown", "error")])

    def lock_event(self, plan: Plan, action: Literal["acquired", "released"]) -> LockChanged:
        return LockChanged(
            id=self.new_id(),
            at=self.now,
            service=plan.service,
            environment=plan.environment,
            action=action,
            fencing_token=1,
        )

    def finished(self, plan: Plan, result: Literal["succeeded", "failed"]) -> DeployFinished:
        return DeployFinished(
            id=self.new_id(),
            at=self.now,
            plan_hash=plan.plan_hash,
            result=result,
            exit_code=0 if result == "succeeded" else 1,
            duration_s=1.0,
            output_tail="",
        )

    def say(self, text: str, purpose: Purpose) -> MessageSent:
        return MessageSent(id=self.new_id(), at=self.now, text=text, purpose=purpose)

    def inbound_id(self) -> str:
        return f"in{next(self.ids)}"

    def pick_plan(self, ref: str, rng: random.Random) -> str:
        """The hash a decision names (``ref``: open / old:<i> / random)."""
        open_approval = self.thread.open_approval()
        if ref == "open" and open_approval is not None:
            return open_approval.plan.plan_hash
        open_hash = open_approval.plan.plan_hash if open_approval else None
        proposed = [
            e.plan.plan_hash
            for e in self.thread.events
            if isinstance(e, PlanProposed) and e.plan.plan_hash != open_hash
        ]
        if ref.startswith("old:") and proposed:
            return proposed[int(ref[4:]) % len(proposed)]
        return f"{rng.getrandbits(64):016x}"

    # -- rules --------------------------------------------------------------------------

    @rule(
        actor=deciders,
        kind=st.sampled_from(["deploy", "rollback"]),
        environment=st.sampled_from(["production", *ENVIRONMENTS]),
        version=st.sampled_from([None, *(t.name for t in TAGS)]),
        seed=luck,
    )
    def request(
        self, actor: str, kind: str, environment: str, version: str | None, seed: int
    ) -> None:
        if kind == "deploy":
            text = (
                f"deploy backend {version} to {environment}"
                if version
                else (f"deploy backend to {environment}")
            )
        else:
            text = f"rollback backend in {environment}" + (f" to {version}" if version else "")
        self.deliver(UserMessage(id=self.inbound_id(), at=self.now, actor=actor, text=text), seed)

    @rule(actor=actors, seed=luck)
    def free_text(self, actor: str, seed: int) -> None:
        """Goes to the model, which may propose any deploy at all."""
        text = "please get the new backend out, thanks"
        self.deliver(UserMessage(id=self.inbound_id(), at=self.now, actor=actor, text=text), seed)

    @rule(
        actor=deciders,
        form=st.sampled_from(["approve", "approve ref", "reject", "reject ref"]),
        ref=plan_refs,
        seed=luck,
    )
    def typed_decision(self, actor: str, form: str, ref: str, seed: int) -> None:
        plan_id = self.pick_plan(ref, random.Random(seed))[:4]
        text = {
            "approve": "approve",
            "approve ref": f"approve {plan_id}",
            "reject": "reject not today",
            "reject ref": f"reject #{plan_id} not today",
        }[form]
        self.deliver(UserMessage(id=self.inbound_id(), at=self.now, actor=actor, text=text), seed)

    @rule(
        actor=st.sampled_from(["slack:U0ALICE", "email:alice@example.com", "terminal:bob"]),
        typed=st.booleans(),
        seed=luck,
    )
    def approver_approves(self, actor: str, typed: bool, seed: int) -> None:
        """The common case, so that plans do get approved and run: an approver names the
        plan open now (or, when none is, an old one)."""
        plan_hash = self.pick_plan("open", random.Random(seed))
        event: Event = (
            UserMessage(
                id=self.inbound_id(), at=self.now, actor=actor, text=f"approve {plan_hash[:4]}"
            )
            if typed
            else DecisionReceived(
                id=self.inbound_id(),
                at=self.now,
                actor=actor,
                decision="approve",
                plan_hash=plan_hash,
            )
        )
        self.deliver(event, seed)

    @rule(
        actor=deciders,
        decision=st.sampled_from(["approve", "approve", "reject"]),
        ref=plan_refs,
        length=st.sampled_from([4, 12, 16]),
        seed=luck,
    )
    def received_decision(
        self, actor: str, decision: Literal["approve", "reject"], ref: str, length: int, seed: int
    ) -> None:
        """A button, a mail token or the API: the plan travels as data."""
        plan_hash = self.pick_plan(ref, random.Random(seed))[:length]
        event = DecisionReceived(
            id=self.inbound_id(),
            at=self.now,
            actor=actor,
            decision=decision,
            plan_hash=plan_hash,
            reason="no" if decision == "reject" else None,
        )
        self.deliver(event, seed)

    @rule(
        kind=st.sampled_from(["expire", "remind", "escalate"]),
        ref=st.one_of(st.just("open"), other_refs),
        seed=luck,
    )
    def timer(self, kind: Literal["expire", "remind", "escalate"], ref: str, seed: int) -> None:
        plan_hash = self.pick_plan(ref, random.Random(seed))
        event = TimerFired(id=self.inbound_id(), at=self.now, kind=kind, plan_hash=plan_hash)
        self.deliver(event, seed)

    @rule(ref=st.one_of(st.just("open"), other_refs), seed=luck)
    def superseded(self, ref: str, seed: int) -> None:
        """Another thread ran a plan for the same pair."""
        plan_hash = self.pick_plan(ref, random.Random(seed))
        event = PlanSuperseded(
            id=self.inbound_id(), at=self.now, plan_hash=plan_hash, by="v9 by someone"
        )
        self.deliver(event, seed)

    @rule(minutes=st.integers(min_value=1, max_value=90))
    def time_passes(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    @rule(index=st.integers(min_value=0, max_value=100), seed=luck)
    def duplicate(self, index: int, seed: int) -> None:
        """The same event id again (a Slack retry, a double click, a stream redelivery)."""
        if self.delivered:
            self.deliver(self.delivered[index % len(self.delivered)], seed)

    @rule(seed=luck)
    def redeliver_after_crash(self, seed: int) -> None:
        """The stream hands a crashed turn's entry to the next worker."""
        if self.unsaved:
            self.deliver(self.unsaved.pop(0), seed)

    # -- invariants ---------------------------------------------------------------------

    @invariant()
    def approvals_cover_every_started_deploy(self) -> None:
        _check_started_deploys(self.thread.events)

    @invariant()
    def approvals_land_on_the_plan_that_was_open(self) -> None:
        _check_decisions(self.thread.events)

    @invariant()
    def each_plan_starts_at_most_once(self) -> None:
        started = [e.plan_hash for e in self.thread.events if isinstance(e, DeployStarted)]
        assert len(started) == len(set(started)), started

    @invariant()
    def status_replays_and_round_trips(self) -> None:
        thread = self.thread
        if thread.status == "awaiting_approval":
            # Something is waiting that can be decided (bug G-1 was a request nobody could).
            assert thread.open_approval() is not None, thread.events[-6:]
        assert derive_status(list(thread.events)) == thread.status
        again = Thread.model_validate_json(thread.model_dump_json())
        assert again.events == thread.events
        assert again.status == thread.status
        assert again.open_approval() == thread.open_approval()


# -- the oracles: recomputed from the events and the config alone ---------------------------


def _plans(events: list[Event]) -> dict[str, Plan]:
    return {e.plan.plan_hash: e.plan for e in events if isinstance(e, PlanProposed)}


def _closes(event: Event, plan_hash: str) -> bool:
    """Whether ``event`` ends the request for ``plan_hash`` (nothing after it may count)."""
    match event:
        case TimerFired(kind="expire", plan_hash=h) | PlanSuperseded(plan_hash=h):
            return h == plan_hash
        case ApprovalDecided(decision="reject") | PlanProposed():
            return True
        case DeployStarted(plan_hash=h):
            return h == plan_hash
        case _:
            return False


def _open_request(events: list[Event]) -> ApprovalRequested | None:
    """The request a decision arriving after ``events`` may count for."""
    for i in range(len(events) - 1, -1, -1):
        event = events[i]
        if isinstance(event, ApprovalRequested):
            h = event.plan_hash
            if any(isinstance(e, DeployStarted) and e.plan_hash == h for e in events[:i]):
                return None  # started once: never approvable again
            if any(_closes(e, h) for e in events[i + 1 :]):
                return None
            return event
        if isinstance(event, PlanProposed):
            return None
    return None


def _unfinished(events: list[Event]) -> DeployStarted | None:
    """The deploy started and never finished nor recorded as interrupted, if any."""
    for event in reversed(events):
        if isinstance(event, DeployFinished | DeployInterrupted):
            return None
        if isinstance(event, DeployStarted):
            return event
    return None


def _check_started_deploys(events: list[Event]) -> None:
    """Invariant 1: a start where approval is needed follows enough allowed approvals."""
    plans = _plans(events)
    for k, started in enumerate(events):
        if not isinstance(started, DeployStarted):
            continue
        plan = plans[started.plan_hash]
        assert CONFIG.person_for(Actor.of("api", plan.requester)) is not None, plan.requester
        env = CONFIG.environments[plan.environment]
        if not env.approval:
            continue
        r = max(
            (
                i
                for i, e in enumerate(events[:k])
                if isinstance(e, ApprovalRequested) and e.plan_hash == plan.plan_hash
            ),
            default=None,
        )
        assert r is not None, f"{plan.environment} deploy started without a request"
        request = events[r]
        assert isinstance(request, ApprovalRequested)
        assert request.min_approvals == env.min_approvals
        window = events[r + 1 : k]
        assert not any(_closes(e, plan.plan_hash) for e in window), window
        counted: set[str] = set()
        escalated = False
        for event in window:
            if isinstance(event, ApprovalEscalated) and event.plan_hash == plan.plan_hash:
                escalated = True
            if not isinstance(event, ApprovalDecided):
                continue
            assert event.plan_hash == plan.plan_hash, "a decision for another plan in the window"
            allowed = {*env.approvers, *(env.escalate_approvers if escalated else [])}
            if (
                event.decision == "approve"
                and event.person in allowed
                and (env.self_approval or event.person != plan.requester)
                and event.at < request.expires_at
            ):
                counted.add(event.person)
        assert len(counted) >= env.min_approvals, (plan, counted)


def _check_policy(
    events: list[Event], request: ApprovalRequested, decided: ApprovalDecided
) -> None:
    """The person may decide this plan, per the config (not per the request's own fields)."""
    plan = _plans(events)[decided.plan_hash]
    env = CONFIG.environments[plan.environment]
    if decided.decision == "reject" and decided.person == plan.requester:
        return  # a requester may always withdraw
    window = events[events.index(request) : events.index(decided)]
    escalated = any(
        isinstance(e, ApprovalEscalated) and e.plan_hash == plan.plan_hash for e in window
    )
    assert decided.person in {*env.approvers, *(env.escalate_approvers if escalated else [])}
    assert env.self_approval or decided.person != plan.requester, "a self-approval"
    if decided.decision == "approve":
        earlier = {e.person for e in window if isinstance(e, ApprovalDecided)}
        assert decided.person not in earlier, "one person counted twice"


def _check_decisions(events: list[Event]) -> None:
    """Invariant 2: each decision lands on the plan open when it arrived, as it named it."""
    for i, decided in enumerate(events):
        if not isinstance(decided, ApprovalDecided):
            continue
        j = max(
            k for k, e in enumerate(events[:i]) if isinstance(e, UserMessage | DecisionReceived)
        )
        trigger = events[j]
        assert isinstance(trigger, UserMessage | DecisionReceived)
        assert trigger.actor == decided.actor
        assert CONFIG.person_for(decided.actor) == decided.person
        request = _open_request(events[:j])
        assert request is not None, "a decision with nothing open"
        assert request.plan_hash == decided.plan_hash, "a decision on a plan not open"
        assert _open_request(events[:i]) == request
        assert decided.at < request.expires_at
        _check_policy(events, request, decided)
        if isinstance(trigger, DecisionReceived):
            assert decided.plan_hash.startswith(trigger.plan_hash)
            assert decided.decision == trigger.decision
            continue
        words = trigger.text.split()
        named = [w.lstrip("#") for w in words[1:2] if w.lstrip("#")[:1].isalnum()]
        if words[0] == "approve" and not named:
            asked = {e.plan_hash for e in events[:j] if isinstance(e, ApprovalRequested)}
            assert asked <= {decided.plan_hash}, "a bare approve in a thread of several plans"
        elif words[0] == "approve" or words[1].startswith("#"):
            assert decided.plan_hash.startswith(named[0])


TestReducerMachine = ReducerMachine.TestCase
TestReducerMachine.settings = settings(
    max_examples=200,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


# -- a failed deploy asked again in the same thread (found by the machine above as bug G-1,
# fixed in 198c712 while this test was written): the same fields give the same hash, so the
# shell makes it a new attempt; the reducer never asks approval for, nor runs, a started plan.


def _after_failed_deploy(environment: str) -> ReducerMachine:
    machine = ReducerMachine()
    machine.shell.outcomes = ["failed"]
    text = f"deploy backend v1.3.0 to {environment}"
    machine.deliver(UserMessage(id="in-a", at=START, actor="slack:U0CAROL", text=text), 0)
    for actor in ["slack:U0ALICE", "slack:U0BOB"]:
        machine.approver_approves(actor, typed=False, seed=0)
    started = [e for e in machine.thread.events if isinstance(e, DeployStarted)]
    assert len(started) == 1
    assert isinstance(machine.thread.events[-1], MessageSent)  # the failure, said
    return machine


def _retried(machine: ReducerMachine, environment: str) -> None:
    text = f"deploy backend v1.3.0 to {environment}"
    machine.deliver(UserMessage(id="in-b", at=START, actor="slack:U0CAROL", text=text), 0)


def test_a_failed_production_deploy_asked_again_is_a_new_plan_to_approve() -> None:
    machine = _after_failed_deploy("production")
    first = next(e for e in machine.thread.events if isinstance(e, DeployStarted))
    _retried(machine, "production")
    assert machine.thread.status == "awaiting_approval"
    open_approval = machine.thread.open_approval()
    assert open_approval is not None
    assert open_approval.plan.plan_hash != first.plan_hash
    machine.shell.outcomes = ["succeeded"]
    for actor in ["slack:U0ALICE", "slack:U0BOB"]:
        machine.approver_approves(actor, typed=False, seed=0)
    starts = [e.plan_hash for e in machine.thread.events if isinstance(e, DeployStarted)]
    assert starts == [first.plan_hash, open_approval.plan.plan_hash]
    assert derive_status(machine.thread.events) == "done"
    _check_started_deploys(machine.thread.events)


def test_the_reducer_never_runs_or_asks_for_a_started_plan_again() -> None:
    for environment in ["staging", "production"]:
        thread = _after_failed_deploy(environment).thread
        started = next(e for e in thread.events if isinstance(e, DeployStarted))
        plan = thread.plan(started.plan_hash)
        assert plan is not None
        # A shell that forgot to make a new attempt hands the very same plan back.
        thread.events.append(PlanProposed(id="in-p", at=START, plan=plan))
        step = next_step(thread, config=CONFIG, now=START, new_id=lambda: "x")
        assert isinstance(step, Apply), step
        assert [e.type for e in step.events] == ["error_recorded"]
