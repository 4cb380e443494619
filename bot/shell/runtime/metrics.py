"""Counters for /metrics, kept in one Redis hash so every process reports the same totals.

The worker adds what a turn's new events count for in the same pipeline that acknowledges
the turn; ``/metrics`` reads them with the gauges (stream lag, dead letters, outbox,
approvals waiting) and prints the Prometheus text format. Gauges that need no Redis (which
freeze windows are open, ``freeze_lines``) are computed at scrape time from the config and
the clock.
"""

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from bot.core.config.freeze import Freeze
from bot.core.release.freezes import active_freeze
from bot.core.thread.events import (
    ApprovalDecided,
    ApprovalRequested,
    DeployFinished,
    ErrorRecorded,
    Event,
    IntentChosen,
)
from bot.shell.store.keys import Keys, text

__all__ = ["Metrics", "count_events", "freeze_lines", "prometheus_line"]


def count_events(events: list[Event]) -> Counter[str]:
    """What these events add to the counters (pure)."""
    counts: Counter[str] = Counter()
    for event in events:
        match event:
            case DeployFinished(result=result):
                counts[f"deploys_total|result={result}"] += 1
            case (
                IntentChosen(source="model")
                | ErrorRecorded(kind="invalid_output" | "model_unavailable")
            ):
                counts["model_calls_total"] += 1
                counts["model_tokens_total|kind=input"] += event.input_tokens
                counts["model_tokens_total|kind=output"] += event.output_tokens
            case ApprovalRequested():
                counts["approvals_requested_total"] += 1
            case ApprovalDecided(decision=decision):
                counts[f"approvals_decided_total|decision={decision}"] += 1
            case _:
                pass
    return counts


class Metrics:
    def __init__(self, *, redis: "Redis", keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    def add_in(self, pipe: "Pipeline", events: list[Event]) -> None:
        for field, amount in count_events(events).items():
            if amount:
                pipe.hincrby(self._keys.metrics(), field, amount)

    async def count_data_loss(self) -> None:
        """Redis lost its data (found by a worker): ``deploybot_redis_data_lost_total``."""
        await self._redis.hincrby(self._keys.metrics(), "redis_data_lost_total", 1)

    async def counters(self) -> dict[str, int]:
        raw = await self._redis.hgetall(self._keys.metrics())
        return {text(k): int(v) for k, v in raw.items()}


def prometheus_line(field: str, value: int) -> str:
    """``deploys_total|result=failed`` -> ``deploybot_deploys_total{result="failed"} 3``;
    several labels are comma-separated (``inputs_set_aside_total|channel=email,reason=x``)."""
    name, _, labels = field.partition("|")
    if labels:
        pairs = (label.partition("=") for label in labels.split(","))
        rendered = ",".join(f'{key}="{val}"' for key, _, val in pairs)
        return f"deploybot_{name}{{{rendered}}} {value}"
    return f"deploybot_{name} {value}"


def freeze_lines(freezes: Sequence[Freeze], *, at: datetime) -> list[str]:
    """``deploybot_freeze_active``: 1 while a freeze's own window is open on an environment,
    else 0; one series per configured freeze and environment (pure)."""
    lines = [
        "# HELP deploybot_freeze_active 1 while the freeze window is open on the environment.",
        "# TYPE deploybot_freeze_active gauge",
    ]
    for freeze in freezes:
        for env in freeze.environments:
            active = active_freeze([freeze], environment=env, at=at) is not None
            labels = f'environment="{env}",freeze="{freeze.name}"'
            lines.append(f"deploybot_freeze_active{{{labels}}} {int(active)}")
    return lines
