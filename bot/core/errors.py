"""The error tree: one base class, each subclass named for what went wrong."""

__all__ = [
    "ConfigError",
    "DeploybotError",
    "InvalidIntent",
    "PlanRefused",
    "StoreError",
    "StoreUnavailable",
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


class StoreError(DeploybotError):
    """The store (Redis) refused or failed a command behind a port (a wrong type, a script
    error, an answer that is no answer). Raised by the shell's implementations of the ports
    in place of the client's own error, which stays the ``__cause__``: channels tell a store
    failure from a bug of their own without importing the client."""


class StoreUnavailable(StoreError):
    """The store could not be reached in time: the connection dropped or was refused, a
    command timed out, the server is still loading its data, or a replica answered during a
    failover (read-only). Nothing was stored by the call that raised it; trying again later
    may succeed (a channel answers 503, Slack retries, the mail listener reconnects)."""
