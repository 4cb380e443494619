"""The error tree: one base class, each subclass named for what went wrong."""

__all__ = [
    "ConfigError",
    "DeploybotError",
    "InvalidIntent",
    "PlanRefused",
    "ThreadConflict",
    "ToolFailed",
    "Undeliverable",
]


class DeploybotError(Exception):
    """Base of every error deploybot raises on purpose."""


class ConfigError(DeploybotError):
    """The config file or the environment is wrong; the message names the key."""


class ThreadConflict(DeploybotError):
    """Compare-and-set lost: another writer saved the thread first."""


class InvalidIntent(DeploybotError):
    """The model proposed something outside its authority (unknown service, bad shape)."""


class ToolFailed(DeploybotError):
    """A lookup (git, history) failed; the message is safe to show and to prompt with."""


class PlanRefused(ToolFailed):
    """A plan policy forbids whoever asks (a quarantined version, a silent rollback): said to
    the people as it is, never retried by the model."""


class Undeliverable(DeploybotError):
    """A channel refused a message for good (a Slack channel that does not exist, an address
    the mail server rejects permanently): retrying cannot help, so the outbox sets it aside
    in its dead-letter stream with this message as the reason, and logs an error."""
