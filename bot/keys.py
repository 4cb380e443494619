"""Every Redis key deploybot uses, built in one place.

Keys that belong to one thread share the hash tag ``{<thread id>}`` so that multi-key Lua
scripts touching a thread also work on Redis Cluster.
"""

__all__ = ["Keys"]


class Keys:
    def __init__(self, prefix: str = "deploybot") -> None:
        self.prefix = prefix

    # -- one thread ----------------------------------------------------------------------
    def thread(self, thread_id: str) -> str:
        return f"{self.prefix}:{{{thread_id}}}:thread"

    def lease(self, thread_id: str) -> str:
        return f"{self.prefix}:{{{thread_id}}}:lease"

    def idempotency(self, thread_id: str, plan_hash: str) -> str:
        return f"{self.prefix}:{{{thread_id}}}:idem:{plan_hash}"

    def delivered(self, thread_id: str) -> str:
        return f"{self.prefix}:{{{thread_id}}}:delivered"

    # -- global --------------------------------------------------------------------------
    def thread_index(self) -> str:
        return f"{self.prefix}:threads"

    def inbound(self) -> str:
        return f"{self.prefix}:inbound"

    def dead_letter(self) -> str:
        return f"{self.prefix}:dead"

    def attempts(self) -> str:
        return f"{self.prefix}:inbound:attempts"

    def seen(self, event_id: str) -> str:
        return f"{self.prefix}:seen:{event_id}"

    def outbox(self, channel: str) -> str:
        return f"{self.prefix}:outbox:{channel}"

    def env_lock(self, service: str, environment: str) -> str:
        return f"{self.prefix}:lock:{service}:{environment}"

    def fence(self, service: str, environment: str) -> str:
        return f"{self.prefix}:fence:{service}:{environment}"

    def history(self, service: str, environment: str) -> str:
        return f"{self.prefix}:history:{service}:{environment}"

    def tags_cache(self, service: str) -> str:
        return f"{self.prefix}:tags:{service}"
