"""Every Redis key deploybot uses, built in one place.

Keys that belong to one thread share the hash tag ``{<thread id>}`` so that multi-key Lua
scripts touching a thread also work on Redis Cluster.
"""

from typing import Any

__all__ = ["Keys", "StreamEntry", "queue_script", "stream_entries", "text"]

StreamEntry = tuple[str, dict[bytes, bytes]]


def text(value: object) -> str:
    """A Redis reply (bytes with ``decode_responses=False``) as ``str``."""
    return value.decode() if isinstance(value, bytes) else str(value)


def queue_script(pipe: Any, script: Any, *, keys: list[str], args: list[Any]) -> None:
    """Queue a Lua script on a pipeline as EVAL.

    redis-py checks every Script object queued on a pipeline with a separate SCRIPT EXISTS
    round trip; EVAL sends the (small) body instead, and never fails with NOSCRIPT.
    """
    pipe.eval(script.script, len(keys), *keys, *args)


def stream_entries(reply: Any) -> list[StreamEntry]:
    """Entries of an XREADGROUP reply (first stream) or an XAUTOCLAIM/XRANGE list.

    Deleted entries (XAUTOCLAIM reports them with no fields) are left out.
    """
    if not reply:
        return []
    if isinstance(reply, dict):  # RESP3 shape
        reply = list(reply.items())
    first = reply[0]
    if isinstance(first, list | tuple) and len(first) == 2 and isinstance(first[1], list):
        reply = first[1]  # [[stream, entries]]
    return [(text(eid), dict(fields)) for eid, fields in reply if fields]


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

    def slack_thread(self, thread_id: str) -> str:
        """Set while a Slack thread belongs to this bot thread (later replies continue it)."""
        return f"{self.prefix}:{{{thread_id}}}:slack"

    def slack_message(self, thread_id: str, message_id: str) -> str:
        """Where a message of this thread was posted in Slack (channel, ts), to edit it."""
        return f"{self.prefix}:{{{thread_id}}}:slack:msg:{message_id}"

    def email_sent(self, thread_id: str, message_id: str) -> str:
        """Set of the email copies of one outbound message already sent (by copy key)."""
        return f"{self.prefix}:{{{thread_id}}}:email:sent:{message_id}"

    def email_mailbox(self, mailbox: str) -> str:
        """Hash: the IMAP mailbox's UIDVALIDITY and the last UID the mail listener handled."""
        return f"{self.prefix}:email:mailbox:{mailbox}"

    def email_refused(self) -> str:
        """Stream of emails ignored because our mail servers did not vouch for the sender
        (``MailRefusal``), capped: for ``deploybot audit``."""
        return f"{self.prefix}:email:refused"

    def email_refusal_notice(self, person: str) -> str:
        """Set while a person has lately been told that a message in their name was refused."""
        return f"{self.prefix}:email:refused:notice:{person}"

    def set_aside(self) -> str:
        """Stream of inputs a channel could not handle and set aside (``SetAside``), capped:
        for ``deploybot audit``."""
        return f"{self.prefix}:set-aside"

    # -- global --------------------------------------------------------------------------
    def thread_index(self) -> str:
        return f"{self.prefix}:threads"

    def inbound(self) -> str:
        return f"{self.prefix}:inbound"

    def dead_letter(self) -> str:
        return f"{self.prefix}:dead"

    def delivered(self) -> str:
        """Sorted set of ``<thread id>:<message id>`` delivered, scored by when."""
        return f"{self.prefix}:delivered"

    def outbox(self, channel: str) -> str:
        return f"{self.prefix}:outbox:{channel}"

    def board_changes(self) -> str:
        """Stream telling the App Home of changes told only in a terminal session's own
        outbox stream (``deploybot chat``), which a watcher cannot name in advance."""
        return f"{self.prefix}:outbox:board-changes"

    def outbox_dead(self) -> str:
        """Stream of outbound messages a channel refused for good, with the reason."""
        return f"{self.prefix}:outbox:dead"

    def env_lock(self, service: str, environment: str) -> str:
        return f"{self.prefix}:{{env:{service}:{environment}}}:lock"

    def pending_approvals(self, service: str, environment: str) -> str:
        """Hash: thread id -> plan hash of each request waiting for approval for this pair,
        so a deploy that runs can tell the others they are superseded."""
        return f"{self.prefix}:{{env:{service}:{environment}}}:pending"

    def quarantine(self, service: str, environment: str) -> str:
        """Hash: version -> why it may not be deployed to this pair (``Quarantined``)."""
        return f"{self.prefix}:{{env:{service}:{environment}}}:quarantine"

    def fence(self, service: str, environment: str) -> str:
        return f"{self.prefix}:{{env:{service}:{environment}}}:fence"

    def intact(self) -> str:
        """The intact mark: gone with Redis's data, so its loss is seen (bot/shell/dataloss)."""
        return f"{self.prefix}:intact"

    def cron_last(self, schedule: str) -> str:
        """The newest scheduled time of a schedule that clocks have handled."""
        return f"{self.prefix}:cron:{schedule}:last"

    def cron_run(self, schedule: str, at: str) -> str:
        """Claimed once a schedule's run for one time is published."""
        return f"{self.prefix}:cron:{schedule}:run:{at}"

    def metrics(self) -> str:
        return f"{self.prefix}:metrics"

    def timers(self) -> str:
        """Sorted set of ``<thread>|<kind>|<plan hash>`` scored by when each is due."""
        return f"{self.prefix}:timers"

    def freeze(self, environment: str) -> str:
        """A person's lock on a whole environment (``lock production <reason>``)."""
        return f"{self.prefix}:freeze:{environment}"

    def queue(self, service: str, environment: str) -> str:
        """Sorted set: thread ids waiting for the pair, by order of joining
        (bot/shell/world/queue.py)."""
        return f"{self.prefix}:{{env:{service}:{environment}}}:queue"

    def queue_plans(self, service: str, environment: str) -> str:
        """Hash: what each waiting thread waits with, its last told position, its last turn."""
        return f"{self.prefix}:{{env:{service}:{environment}}}:queue:plans"

    def queue_counter(self, service: str, environment: str) -> str:
        return f"{self.prefix}:{{env:{service}:{environment}}}:queue:seq"

    def awaiting(self, service: str, environment: str) -> str:
        """Hash: commit -> ``<thread>|<release_awaited id>`` of the ``when ready`` wait for
        it, so a later request for the same commit ends it (bot/shell/deploy/release_gate.py)."""
        return f"{self.prefix}:{{env:{service}:{environment}}}:awaiting"

    def queues(self) -> str:
        """Set: the pairs (``service\x1fenvironment``) that ever had a queue."""
        return f"{self.prefix}:queues"

    def soak(self, service: str, environment: str) -> str:
        """Hash: ``<sha>`` (a ``SoakMark``), ``<sha>:verified``, ``<sha>:left`` (ISO times)
        and ``<sha>:void`` (why), for promotion (bot/core/release/promotion.py)."""
        return f"{self.prefix}:{{env:{service}:{environment}}}:soak"

    def home_viewers(self) -> str:
        """Sorted set: Slack user id -> when they last opened the App Home (epoch seconds)."""
        return f"{self.prefix}:home:viewers"

    def home_shown(self, user: str) -> str:
        """The fingerprint of the App Home view last published to a Slack user."""
        return f"{self.prefix}:home:shown:{user}"

    def history(self, service: str, environment: str) -> str:
        return f"{self.prefix}:history:{service}:{environment}"

    def newest_started(self, service: str, environment: str) -> str:
        """The newest deploy started on the pair (bot/core/policy/supersession.py)."""
        return f"{self.prefix}:history:{service}:{environment}:started"

    def tags_cache(self, service: str) -> str:
        return f"{self.prefix}:tags:{service}"
