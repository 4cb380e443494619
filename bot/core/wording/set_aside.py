"""What a thread is told when one of its inbound entries is set aside (pure): the worker
could not process it and dead-lettered it for an operator (bot/shell/loop/entry.py)."""

__all__ = ["set_aside_text"]


def set_aside_text(reason: str) -> str:
    return (
        f"I could not process a message in this thread ({reason}); it was set aside for "
        "an operator. Nothing was deployed because of it."
    )
