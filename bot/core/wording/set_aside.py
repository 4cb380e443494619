"""What a thread is told when one of its inbound entries is set aside (pure): the worker
could not process it and dead-lettered it for an operator (bot/shell/loop/entry.py), and
the reason given inside that notice (and in the dead letter an operator reads)."""

__all__ = ["keeps_failing_reason", "no_thread_reason", "set_aside_text", "undecodable_reason"]


def set_aside_text(reason: str) -> str:
    return (
        f"I could not process a message in this thread ({reason}); it was set aside for "
        "an operator. Nothing was deployed because of it."
    )


def undecodable_reason() -> str:
    """The entry is not an inbound envelope this worker can read."""
    return "not a valid inbound envelope"


def keeps_failing_reason(*, failures: int) -> str:
    """Processing the entry failed ``failures`` times in a row."""
    return f"failed {failures} times"


def no_thread_reason(*, thread_id: str) -> str:
    """The entry continues a thread that is not stored (and it cannot start one)."""
    return f"no thread {thread_id}"
