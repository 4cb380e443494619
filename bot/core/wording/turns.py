"""The words of a turn (pure): what a thread records when the worker stops advancing it
(bot/shell/loop/turn.py runs the steps and records this as an error)."""

__all__ = ["too_many_steps_message"]


def too_many_steps_message() -> str:
    """A turn took as many steps as it may without coming to rest."""
    return "stopped after too many steps"
