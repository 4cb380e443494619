"""What the deploy history says, in pure rules: which version is live now, and which one a
rollback goes back to (passing over quarantined versions). The history itself is kept in
Redis by ``bot.shell.history``."""

from collections.abc import Collection

from bot.core.plan import DeployRecord

__all__ = ["current_version", "last_good_before"]


def current_version(history: list[DeployRecord]) -> str | None:
    """The version live now: the newest successful deploy or rollback."""
    for record in history:
        if record.result == "succeeded":
            return record.version
    return None


def last_good_before(history: list[DeployRecord], *, skip: Collection[str] = ()) -> str | None:
    """The version to roll back to.

    After a failed deploy, the last version that succeeded (what was live before it);
    otherwise the newest successful version other than the one live now. Versions in
    ``skip`` (quarantined: they failed verification or were rolled back) are passed over.
    """
    current = current_version(history)
    if history and history[0].result != "succeeded" and current not in skip:
        return current
    for record in history:
        good = record.result == "succeeded" and record.version not in skip
        if good and record.version != current:
            return record.version
    return None
