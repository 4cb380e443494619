"""Deploy history per service and environment: what ran, who asked, who approved, result."""

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from bot.core.plan import DeployRecord
from bot.shell.keys import Keys

__all__ = ["DeployHistory"]


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
        return [DeployRecord.model_validate_json(r) for r in raw]
