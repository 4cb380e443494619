"""Policy for time: when an approval request is reminded, escalated and expired, and when a
deploy is verified. Pure: the shell (``bot.shell.loop.timers``) keeps the timers durable in Redis
and fires them; what they are and when is decided here."""

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Literal

from bot.core.config.config import Config
from bot.core.policy.verification import ToVerify, verification_for
from bot.core.thread.events import (
    ApprovalDecided,
    ApprovalRequested,
    DeployFinished,
    DeployStarted,
    Event,
    ReleaseAwaited,
)
from bot.core.thread.plan import Plan

__all__ = ["Kind", "TimerChange", "timer_changes"]

Kind = Literal["remind", "escalate", "expire", "verify", "ready"]
# (kind, plan hash, when it is due; None: cancel it)
TimerChange = tuple[Kind, str, datetime | None]


def timer_changes(
    events: list[Event], *, config: Config, plans: Mapping[str, Plan], now: datetime
) -> list[TimerChange]:
    """The timers that new ``events`` set or cancel. ``plans``: the thread's plans by hash.

    An approval request expires at its ``expires_at``; it is reminded ``reminder_before_s``
    before that (when still ahead) and escalated ``escalate_after_s`` after it was made (when
    before the expiry). Once decided or started, its timers have nothing left to do. A
    deploy that succeeded where checks and ``verify_s`` are configured is verified at once
    (durably: even if the process that saw it dies now). A wait for release policy
    (``release_awaited``) is looked at again at its ``retry_at``."""
    changes: list[TimerChange] = []
    for event in events:
        match event:
            case DeployStarted() | ApprovalDecided(decision="reject"):
                changes += [(k, event.plan_hash, None) for k in ("remind", "escalate", "expire")]
            case ApprovalRequested(plan_hash=plan_hash, expires_at=expires_at):
                env = config.environments[plans[plan_hash].environment]
                changes.append(("expire", plan_hash, expires_at))
                remind_at = expires_at - timedelta(seconds=env.reminder_before_s)
                if env.reminder_before_s > 0 and remind_at > now:
                    changes.append(("remind", plan_hash, remind_at))
                if env.escalation_after_s is not None:
                    escalate_at = event.at + timedelta(seconds=env.escalation_after_s)
                    if escalate_at < expires_at:
                        changes.append(("escalate", plan_hash, escalate_at))
            case DeployFinished(result="succeeded", plan_hash=plan_hash) if (
                (plan := plans.get(plan_hash)) is not None
                and plan.kind == "deploy"
                and isinstance(
                    verification_for(config, service=plan.service, environment=plan.environment),
                    ToVerify,
                )
            ):
                changes.append(("verify", plan_hash, now))
            case ReleaseAwaited(id=awaited, retry_at=retry_at):
                changes.append(("ready", awaited, retry_at))  # named by the wait's event id
            case _:
                pass
    return changes
