"""What the deterministic command grammar can recognise (the ChatOps fast path).

``bot.core.reading.grammar.parse_command`` turns text into one of these or ``None`` ("not sure:
defer to the model"). Commands are in the imperative; the events they lead to are in the past tense.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ApproveCommand",
    "CancelCommand",
    "Command",
    "DeployCommand",
    "DeploysCommand",
    "HelpCommand",
    "LockCommand",
    "RejectCommand",
    "ReleaseCommand",
    "RollbackCommand",
    "StatusCommand",
    "UnlockCommand",
    "WhereCommand",
]


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DeployCommand(_Command):
    """``deploy backend v1.4.2 to production``; no version means the newest tag.

    Release policy's suffixes (``bot.core.reading.suffixes``): ``when ready`` (wait in the
    queue until the soak allows it), ``skip soak <reason>`` and ``break glass <reason>``
    (overrides, for the people the config names; the reason is audited)."""

    command: Literal["deploy"] = "deploy"
    service: str
    environment: str
    version: str | None = None
    when_ready: bool = False
    skip_soak: str | None = None
    break_glass: str | None = None


class RollbackCommand(_Command):
    """``rollback backend in production [to v1.4.1]``; no version means the last good one."""

    command: Literal["rollback"] = "rollback"
    service: str
    environment: str
    version: str | None = None


class ApproveCommand(_Command):
    """``approve`` or ``approve 3f2a`` (a plan's short id, to be sure of what is approved)."""

    command: Literal["approve"] = "approve"
    plan_id: str | None = None


class RejectCommand(_Command):
    """``reject <reason>`` or ``reject #3f2a <reason>``; the reason may be empty."""

    command: Literal["reject"] = "reject"
    plan_id: str | None = None
    reason: str | None = None


class CancelCommand(_Command):
    """``cancel`` (this thread's waiting plan) or ``cancel 3f2a`` / ``cancel #3f2a``: leave
    the queue."""

    command: Literal["cancel"] = "cancel"
    plan_id: str | None = None


class ReleaseCommand(_Command):
    """``release backend v1.4.2 in production <reason>``: lift a version's quarantine."""

    command: Literal["release"] = "release"
    service: str
    version: str
    environment: str
    reason: str | None = None


class StatusCommand(_Command):
    command: Literal["status"] = "status"


class HelpCommand(_Command):
    command: Literal["help"] = "help"


class LockCommand(_Command):
    """``lock production <reason>``."""

    command: Literal["lock"] = "lock"
    environment: str
    reason: str | None = None


class UnlockCommand(_Command):
    command: Literal["unlock"] = "unlock"
    environment: str


class WhereCommand(_Command):
    """``where can I deploy backend``."""

    command: Literal["where"] = "where"
    service: str


class DeploysCommand(_Command):
    """``deploys backend in production``: the recent deploys."""

    command: Literal["deploys"] = "deploys"
    service: str
    environment: str


Command = Annotated[
    DeployCommand
    | RollbackCommand
    | ApproveCommand
    | RejectCommand
    | StatusCommand
    | HelpCommand
    | LockCommand
    | UnlockCommand
    | WhereCommand
    | DeploysCommand
    | ReleaseCommand
    | CancelCommand,
    Field(discriminator="command"),
]
