"""Benchmark: input tokens per model decision, with prompt caching against without it.

A benchmark, not a test: pytest never collects it. Run from the repository root:

    .venv/bin/python bench/tokens.py [--model claude-sonnet-5-5] [--config deploybot.toml]

It builds the exact request the agents send (``ClaudeAgent.request``: the planner's own
cache markers, ``thread_to_prompt``'s own rendering) for three reference threads, at each
point where the model is asked: a plain deploy request; a deploy with tags and history
pre-fetched, an approval and a follow-up question; a rollback asked for after a failed
verification. No request is sent to ``messages.create``. For each decision it prints the
cached prefix (the tools, then the system prompt) and the uncached part (the rendered
thread), and what the input costs, in units of one uncached input token:

- today (before caching): prefix + thread, every token at full price;
- with caching, warm (the prefix read from the cache, 0.1x): thread + 0.1 * prefix;
- with caching, first call in a 5-minute window (the prefix written, 1.25x).

How tokens are counted (one function, ``count_text``, offline):
- the PyPI package ``anthropic-tokenizer`` (``pip install -e ".[bench]"``) when it is
  installed: a local BPE of an *older* Claude vocabulary (65,000 tokens), so the counts are
  approximate for current models; the tools are counted as their compact JSON, which is
  not exactly how the API lays them out;
- otherwise an estimate of one token per 3.5 characters (``CHARS_PER_TOKEN``), said in the
  output;
- with ANTHROPIC_API_KEY set, the API's ``messages.count_tokens`` counts instead (exact for
  the model): the prefix is the whole request minus the same messages alone, so it also
  holds the tool-use system prompt the API adds when tools are sent. The offline counts
  leave that out (a few hundred tokens, model-dependent), so they understate the prefix.

The API caches a prefix only from a minimum length on (``cache_minimum``); the output says
whether the reference prefix reaches it for the model, and if it does not, the "with
caching" columns are what the markers would save at that length, not what is saved: below
the minimum the API bills everything as uncached (as "today"). The prompt is not padded.
"""

import argparse
import json
import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anthropic

from agents.claude_agent import ClaudeAgent
from agents.deploy import DeployAgent
from agents.planner import ClaudePlanner, ModelRequest
from agents.rollback import RollbackAgent
from bot.app.settings import DEFAULT_MODEL
from bot.core.config.config import Config, parse_config
from bot.core.thread.events import (
    ApprovalDecided,
    ApprovalRequested,
    DeployFinished,
    DeployStarted,
    Event,
    HistoryListed,
    IntentChosen,
    MessageSent,
    PlanProposed,
    TagsListed,
    UserMessage,
)
from bot.core.thread.intents import Deploy
from bot.core.thread.origin import SlackOrigin
from bot.core.thread.plan import DeployRecord, Plan, Tag
from bot.core.thread.thread import Thread

CHARS_PER_TOKEN = 3.5
CACHE_READ = 0.1  # x the input price
CACHE_WRITE = 1.25  # 5-minute cache

REFERENCE_CONFIG = """
[people.alice]
slack = "U0ALICE"
[people.bob]
email = "bob@example.com"
[people.carol]
slack = "U0CAROL"

[services.backend]
repo = "https://github.com/acme/backend.git"
deploy = ["./scripts/deploy.sh", "{service}", "{version}", "{environment}"]
environments = ["staging", "production"]
[services.frontend]
repo = "https://github.com/acme/frontend.git"
deploy = ["./scripts/deploy.sh", "{service}", "{version}", "{environment}"]
environments = ["staging", "production"]
[services.payments]
repo = "https://github.com/acme/payments.git"
deploy = ["./scripts/deploy.sh", "{service}", "{version}", "{environment}"]
environments = ["staging", "production"]

[environments.staging]
approval = false
[environments.production]
approval = true
approvers = ["alice", "bob"]
"""

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# -- counting -------------------------------------------------------------------------------


def _offline_counter() -> tuple[Callable[[str], int], str]:
    try:
        import anthropic_tokenizer  # type: ignore[import-untyped]
    except ImportError:
        missing = '(anthropic-tokenizer is not installed: pip install -e ".[bench]")'
        return _estimate, f"{ESTIMATE} {missing}"
    count: Callable[[str], int] = anthropic_tokenizer.count_tokens
    return count, (
        "anthropic-tokenizer (offline BPE of an older Claude vocabulary: approximate for "
        "current models; tools counted as compact JSON; the API's own tool-use system prompt "
        "is not counted)"
    )


def _estimate(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


ESTIMATE = f"an estimate: 1 token per {CHARS_PER_TOKEN} characters"


@dataclass(frozen=True)
class Split:
    prefix: int  # tools + system: cached
    thread: int  # the rendered thread: never cached


def offline_split(request: ModelRequest, *, count_text: Callable[[str], int]) -> Split:
    tools = json.dumps(request["tools"], separators=(",", ":"), ensure_ascii=False)
    system = "".join(block["text"] for block in request["system"])
    thread = "".join(str(m["content"]) for m in request["messages"])
    return Split(prefix=count_text(tools) + count_text(system), thread=count_text(thread))


def api_split(client: anthropic.Anthropic, request: ModelRequest) -> Split:
    """The API's counts: the whole request, and its messages alone (no tools, no system)."""
    whole = client.messages.count_tokens(
        model=request["model"],
        system=request["system"],
        tools=request["tools"],
        tool_choice=request["tool_choice"],
        messages=request["messages"],
    ).input_tokens
    alone = client.messages.count_tokens(
        model=request["model"], messages=request["messages"]
    ).input_tokens
    return Split(prefix=whole - alone, thread=alone)


def cache_minimum(model: str) -> int:
    """The shortest prefix the API caches for ``model``, as documented per model family.

    Sonnet- and Opus-class: 1024 tokens; Haiku-class: 2048 (Haiku 4.5 and Opus 4.5/4.6 are
    documented at 4096). An unknown name is taken as Sonnet-class.
    """
    name = model.lower()
    if any(old in name for old in ("haiku-4-5", "opus-4-5", "opus-4-6")):
        return 4096
    return 2048 if "haiku" in name else 1024


# -- the reference threads --------------------------------------------------------------------


def _sha(minor: int) -> str:
    return f"{minor:02d}bac" + "c" * 35


def _tags(service: str, newest: int) -> list[Tag]:
    return [
        Tag(name=f"v1.{i}.0", sha=_sha(i), subject=f"release {i}")
        for i in range(newest, max(newest - 10, -1), -1)
    ]


def _history(
    service: str, environment: str, *, minors: tuple[int, ...], at_minutes: float = 0
) -> HistoryListed:
    """Deploys of ``v1.<minor>.0``, newest first, one a day, all succeeded."""
    records = [
        DeployRecord(
            thread_id=f"old-{minor}",
            kind="deploy",
            version=f"v1.{minor}.0",
            sha=_sha(minor),
            requester="slack:U0CAROL",
            approvers=["alice"] if environment == "production" else [],
            result="succeeded",
            at=at(at_minutes - 60 * 24 * n).isoformat(),
        )
        for n, minor in enumerate(minors)
    ]
    return HistoryListed(
        id=f"h-{service}-{environment}",
        at=at(at_minutes),
        service=service,
        environment=environment,
        deploys=records,
    )


def plain_request() -> list[Event]:
    return [UserMessage(id="p1", at=at(0), actor="slack:U0CAROL", text=_PLAIN)]


_PLAIN = "can you put the login fix for backend on staging?"
PLAN = Plan(
    kind="deploy",
    service="backend",
    environment="production",
    version="v1.12.0",
    sha=_sha(12),
    subject="release 12",
    previous_version="v1.11.0",
    requester="slack:U0CAROL",
)


def with_approval() -> tuple[list[Event], list[int]]:
    """Prefetched tags and history, the model's deploy, approval, deploy, a question."""
    events: list[Event] = [
        UserMessage(id="a1", at=at(0), actor="slack:U0CAROL", text="ship backend to prod"),
        TagsListed(id="a2", at=at(0), service="backend", tags=_tags("backend", 12)),
        _history("backend", "staging", minors=(12, 11)),
        _history("backend", "production", minors=(11, 10)),
    ]
    first = len(events)  # the model is asked here
    plan_hash = PLAN.plan_hash
    events += [
        IntentChosen(
            id="a5",
            at=at(0),
            intent=Deploy(service="backend", environment="production"),
            source="model",
            model=DEFAULT_MODEL,
            input_tokens=2000,
            output_tokens=40,
        ),
        PlanProposed(id="a6", at=at(0), plan=PLAN),
        ApprovalRequested(
            id="a7",
            at=at(0),
            plan_hash=plan_hash,
            approvers=["alice", "bob"],
            min_approvals=1,
            expires_at=at(60),
        ),
        MessageSent(
            id="a8",
            at=at(0),
            purpose="approval_request",
            text="Plan #12ab: deploy backend v1.12.0 to production (now v1.11.0). "
            "Needs 1 approval from: alice, bob.",
        ),
        ApprovalDecided(
            id="a9",
            at=at(4),
            plan_hash=plan_hash,
            actor="slack:U0ALICE",
            person="alice",
            decision="approve",
        ),
        DeployStarted(
            id="a10", at=at(5), plan_hash=plan_hash, idempotency_key="k", fencing_token=3
        ),
        DeployFinished(
            id="a11",
            at=at(9),
            plan_hash=plan_hash,
            result="succeeded",
            exit_code=0,
            duration_s=212.0,
            output_tail="migrations: none\nrolled out 3/3 pods\n",
        ),
        MessageSent(
            id="a12",
            at=at(9),
            purpose="result",
            text="Deployed backend v1.12.0 to production.",
        ),
        UserMessage(
            id="a13", at=at(12), actor="slack:U0ALICE", text="thanks! what is on prod now?"
        ),
    ]
    return events, [first, len(events)]


def rollback_after_failed_verification() -> list[Event]:
    """A new thread (free text starting "roll back" goes to the rollback agent) after
    v1.12.0 failed its verification in production, with the history pre-fetched."""
    text = "roll back backend in prod, v1.12.0 failed its health checks after the deploy"
    return [
        UserMessage(id="r1", at=at(25), actor="slack:U0ALICE", text=text),
        _history("backend", "staging", minors=(12, 11), at_minutes=25),
        _history("backend", "production", minors=(12, 11, 10), at_minutes=25),
    ]


@dataclass(frozen=True)
class Decision:
    name: str
    agent: ClaudeAgent
    thread: Thread


def decisions(config: Config, model: str) -> list[Decision]:
    planner = ClaudePlanner(client=anthropic.AsyncAnthropic(api_key="unused"), model=model)
    deploy = DeployAgent(planner=planner, config=config, clock=lambda: at(30))
    rollback = RollbackAgent(planner=planner, config=config, clock=lambda: at(30))
    origin = SlackOrigin(channel="C0DEPLOYS", thread_ts="1762074000.000100")

    def thread(thread_id: str, events: list[Event]) -> Thread:
        return Thread(id=thread_id, origin=origin, created_at=T0, events=events)

    approval, points = with_approval()
    return [
        Decision("1 plain deploy request", deploy, thread("t-plain", plain_request())),
        *(
            Decision(f"2 prefetched + approval, call {n}", deploy, thread("t-appr", approval[:k]))
            for n, k in enumerate(points, start=1)
        ),
        Decision(
            "3 rollback after failed verify",
            rollback,
            thread("t-back", rollback_after_failed_verification()),
        ),
    ]


# -- the report -----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=os.environ.get("ANTHROPIC_MODEL") or DEFAULT_MODEL)
    parser.add_argument("--config", type=Path, help="a deploybot TOML (default: 3 services)")
    parser.add_argument(
        "--estimate", action="store_true", help=f"count {ESTIMATE} even with a tokenizer"
    )
    args = parser.parse_args()
    config = (
        parse_config(args.config.read_text(), base_dir=args.config.parent)
        if args.config
        else parse_config(REFERENCE_CONFIG, base_dir=Path("/srv/deploybot"))
    )
    model: str = args.model
    if os.environ.get("ANTHROPIC_API_KEY"):
        client = anthropic.Anthropic()
        split: Callable[[ModelRequest], Split] = lambda request: api_split(client, request)  # noqa: E731
        counter = f"the API's messages.count_tokens for {model} (exact)"
    else:
        count, counter = (_estimate, ESTIMATE) if args.estimate else _offline_counter()
        split = lambda request: offline_split(request, count_text=count)  # noqa: E731
    minimum = cache_minimum(model)
    print(f"model {model}; tokens counted with {counter}")
    print(f"config: {len(config.services)} services, {len(config.environments)} environments")
    header = (
        f"{'decision':34} {'agent':8} {'prefix':>6} {'thread':>6} {'today':>6} "
        f"{'cached':>7} {'ratio':>6} {'1st call':>8}"
    )
    print(header)
    print("-" * len(header))
    prefixes: dict[str, int] = {}
    for decision in decisions(config, model):
        counts = split(decision.agent.request(decision.thread))
        prefixes[decision.agent.name] = counts.prefix
        today = counts.prefix + counts.thread
        warm = counts.thread + CACHE_READ * counts.prefix
        first = counts.thread + CACHE_WRITE * counts.prefix
        print(
            f"{decision.name:34} {decision.agent.name:8} {counts.prefix:6d} {counts.thread:6d} "
            f"{today:6d} {warm:7.1f} {warm / today:6.2f} {first:8.1f}"
        )
    print(
        "prefix = tools + system prompt (cached); thread = the rendered thread (full price);\n"
        f"today = all input uncached; cached = thread + {CACHE_READ} x prefix (cache warm); "
        f"ratio = cached / today;\n1st call = thread + {CACHE_WRITE} x prefix (the write, "
        "again after 5 minutes without a call to that agent)."
    )
    for name, prefix in sorted(prefixes.items()):
        if prefix < minimum:
            verdict = (
                "BELOW it: the API caches nothing, every call is billed as 'today' (the "
                "'cached' columns are what the markers would save at a cacheable length)"
            )
        elif prefix < 1.25 * minimum and not os.environ.get("ANTHROPIC_API_KEY"):
            verdict = "above it, but close for an approximate count: confirm with a key set"
        else:
            verdict = "above it: cached"
        print(
            f"{name} agent prefix {prefix} tokens; cache minimum for {model} {minimum}: {verdict}"
        )


if __name__ == "__main__":
    main()
