"""The words around running a plan (pure): why it did not run (a person's lock, a busy pair,
a start already claimed, drift found by the re-check), what a lock and a held pair are for,
and the notes a recovered deploy's result carries.

The decisions are the core's policy (``bot.core.policy``: ``lock``, ``live``,
``quarantine``, ``recovery``); the shell reports what it found and records these words.
"""

from datetime import datetime
from typing import Literal

from bot.core.thread.plan import Plan
from bot.core.wording.messages import held_text

__all__ = [
    "already_started_text",
    "busy_text",
    "drift_text",
    "frozen_not_run_text",
    "held_for_text",
    "hold_text",
    "lock_for_text",
    "no_github_credentials_tail",
    "not_remade_text",
    "read_back_note",
    "recheck_tags_unreadable",
    "status_note",
    "status_unknown_text",
    "superseded_by_text",
    "under_replicated_tail",
]


def lock_for_text(plan: Plan) -> str:
    """What the pair's lock says it is held for (``where``, a busy refusal)."""
    return f"{plan.kind} {plan.service} {plan.version}"


def held_for_text(plan: Plan) -> str:
    """What a pair held for a person after an interrupted deploy says it is held for."""
    return f"interrupted {plan.kind} of {plan.service} {plan.version} (outcome unknown)"


def frozen_not_run_text(plan: Plan, *, refusal: str) -> str:
    """A person's lock (``refusal``, from ``bot.core.policy.lock.check_frozen``) stopped it."""
    return f"{refusal} Plan #{plan.short_id} did not run."


def busy_text(plan: Plan, *, who: str, why: str, since: datetime, thread_id: str) -> str:
    return (
        f"{plan.service} in {plan.environment} is busy: {why} for {who} "
        f"since {since:%H:%M} UTC (thread {thread_id}). Plan "
        f"#{plan.short_id} did not run; ask again when it is free."
    )


def already_started_text(plan: Plan) -> str:
    """Its idempotency key was claimed already (another worker, a redelivery)."""
    return (
        f"Plan #{plan.short_id} has already been started once in this "
        "thread; it is never run twice. Ask for a new deploy if needed."
    )


def under_replicated_tail(*, acked: int, replicas: int, timeout_ms: int) -> str:
    """The result's output when its start reached too few Redis replicas to be run."""
    return (
        f"deploybot: not run: the start of this deploy reached {acked} of "
        f"{replicas} Redis replicas within {timeout_ms} ms "
        "(DEPLOYBOT_REDIS_REPLICAS), so a failover could run it twice. Nothing was "
        "deployed; ask again once Redis replication is healthy."
    )


def recheck_tags_unreadable(service: str, error: str) -> str:
    return (
        f"I could not re-read {service}'s tags to check them ({error}). "
        "Ask again when the repository answers."
    )


def drift_text(plan: Plan, *, reason: str, remade: bool) -> str:
    """The re-check under the lock stopped it (``reason``); ``remade``: planned again."""
    text = f"Plan #{plan.short_id} did not run: {reason}"
    if remade:
        text += " It is made again from what is live now, for a fresh approval."
    return text


def not_remade_text(*, reason: str, failed_version: str) -> str:
    """The bot's own rollback after a failed verification, stopped by the re-check."""
    return (
        f"{reason} It was the bot's rollback of {failed_version} "
        "after its failed verification; it is not made again against what is live "
        "now, so nothing is rolled back."
    )


def read_back_note() -> str:
    """A recovered deploy's output: its result came from the deploy history."""
    return (
        "deploybot: the worker stopped after the command finished; its "
        "result was read back from the deploy history."
    )


def status_note(
    *, result: Literal["succeeded", "failed", "timed_out"], from_run: bool, tail: str
) -> str:
    """A recovered deploy's output: its result came from the target (``from_run``: the
    workflow run it dispatched; else the service's status command)."""
    source = (
        "the workflow run it dispatched (found by its key)"
        if from_run
        else "the service's status command"
    )
    note = f"deploybot: the worker stopped during the deploy; {source} says it "
    note += f"{result.replace('_', ' ')}."
    return note + (f"\n{tail}" if tail else "")


def status_unknown_text(text: str, *, reason: str | None, asked: bool) -> str:
    """An interrupted deploy's message, with what the target said (``reason``) or that its
    status command could not tell (``asked``) either."""
    if reason is not None:
        return f"{text}\n{reason}"
    if asked:
        return f"{text} (Its status command could not tell either.)"
    return text


def hold_text(plan: Plan, *, text: str, held: bool) -> str:
    """An interrupted deploy's message: what is known, then who frees the pair."""
    return f"{text} {held_text(plan, held=held)}"


def no_github_credentials_tail(plan: Plan) -> str:
    """A deploy through a GitHub workflow while no GitHub credentials are configured."""
    return (
        f"{plan.service} deploys through a GitHub workflow, but neither "
        "GITHUB_TOKEN nor a GitHub App is set; nothing was dispatched."
    )


def superseded_by_text(plan: Plan, *, thread_id: str) -> str:
    """What closed other threads' requests for the pair: ``plan`` (in ``thread_id``) started."""
    return (
        f"{plan.kind} of {plan.service} {plan.version} to {plan.environment} started "
        f"for {plan.requester} (plan #{plan.short_id}, thread {thread_id})"
    )
