"""Deploy history per service and environment: what ran, who asked, who approved, result;
and the newest deploy started there (what a verification asks: bot/core/policy/supersession.py)."""

from collections.abc import Sequence
from datetime import datetime

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from bot.core.policy.supersession import StartedDeploy
from bot.core.thread.plan import DeployRecord, Plan
from bot.shell.store.keys import Keys

__all__ = ["DeployHistory", "records"]


class DeployHistory:
    def __init__(self, *, redis: "Redis", keys: Keys, keep: int = 100) -> None:
        self._redis = redis
        self._keys = keys
        self._keep = keep

    async def record(self, *, service: str, environment: str, record: DeployRecord) -> None:
        pipe = self._redis.pipeline(transaction=False)
        self.record_in(pipe, service=service, environment=environment, record=record)
        await pipe.execute()

    def record_in(
        self, pipe: "Pipeline", *, service: str, environment: str, record: DeployRecord
    ) -> None:
        """Queue the record on a pipeline the caller executes."""
        key = self._keys.history(service, environment)
        pipe.lpush(key, record.model_dump_json())
        pipe.ltrim(key, 0, self._keep - 1)

    async def recent(
        self, *, service: str, environment: str, limit: int = 10
    ) -> list[DeployRecord]:
        """Newest first."""
        raw = await self._redis.lrange(self._keys.history(service, environment), 0, limit - 1)
        return records(raw)

    def recent_in(self, pipe: "Pipeline", *, service: str, environment: str, limit: int) -> None:
        """Queue ``recent``'s read on a pipeline (``records`` reads its reply)."""
        pipe.lrange(self._keys.history(service, environment), 0, limit - 1)

    async def started(self, plan: Plan, *, idempotency_key: str, at: datetime) -> None:
        """``plan``'s deploy (``idempotency_key``) is now the newest started on its pair: a
        verification of an older one stops."""
        pipe = self._redis.pipeline(transaction=False)
        self.started_in(pipe, plan, idempotency_key=idempotency_key, at=at)
        await pipe.execute()

    def started_in(
        self, pipe: "Pipeline", plan: Plan, *, idempotency_key: str, at: datetime
    ) -> None:
        """Queue ``started`` on a pipeline the caller executes."""
        deploy = StartedDeploy(
            idempotency_key=idempotency_key,
            kind=plan.kind,
            version=plan.version,
            requester=plan.requester,
            at=at,
            sha=plan.sha,
        )
        key = self._keys.newest_started(plan.service, plan.environment)
        pipe.set(key, deploy.model_dump_json())

    async def newest_started(self, *, service: str, environment: str) -> StartedDeploy | None:
        """The newest deploy started on the pair; None when nothing says (data lost)."""
        raw = await self._redis.get(self._keys.newest_started(service, environment))
        if raw is None:
            return None
        try:
            return StartedDeploy.model_validate_json(raw)
        except ValueError:
            return None


def records(raw: Sequence[bytes | str]) -> list[DeployRecord]:
    """The history's records as an ``LRANGE`` of it returns them (newest first)."""
    return [DeployRecord.model_validate_json(r) for r in raw]
