"""Where each of the bot's messages went in Slack, so a later message can edit it.

One small Redis key per message (``...:{<thread>}:slack:msg:<message id>``) with a TTL:
the channel, the ``ts`` Slack gave it, and for an approval card the card itself and the
steps shown under it so far. A message that replaces another gets a record pointing at the
same ``ts``, so a chain (card -> "approved, deploying" -> progress -> result) edits one
Slack message.
"""

from pydantic import BaseModel, ConfigDict
from redis.asyncio import Redis

from bot.core.ports.outbound import ApprovalCard
from bot.shell.store.keys import Keys

__all__ = ["Posted", "PostedMessages"]

_TTL_S = 14 * 86400


class Posted(BaseModel):
    model_config = ConfigDict(frozen=True)

    channel: str
    ts: str
    card: ApprovalCard | None = None
    open: bool = False  # the card still has its buttons
    notes: list[str] = []  # steps since the decision, shown above the latest text

    def replaced_by(self, text: str) -> "Posted":
        """The record of a message that edits this one in place."""
        notes = [*self.notes, text] if self.open else list(self.notes)
        return self.model_copy(update={"open": False, "notes": notes[-5:]})


class PostedMessages:
    def __init__(self, *, redis: "Redis", keys: Keys, ttl_s: int = _TTL_S) -> None:
        self._redis = redis
        self._keys = keys
        self._ttl_s = ttl_s

    async def get(self, thread_id: str, message_id: str) -> Posted | None:
        raw = await self._redis.get(self._keys.slack_message(thread_id, message_id))
        if raw is None:
            return None
        try:
            return Posted.model_validate_json(raw)
        except ValueError:
            return None  # unreadable: treat as never posted

    async def put(self, thread_id: str, message_id: str, posted: Posted) -> None:
        await self._redis.set(
            self._keys.slack_message(thread_id, message_id),
            posted.model_dump_json(exclude_defaults=True),
            ex=self._ttl_s,
        )
