"""Where a thread came from, and so where its replies go."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.core.thread.text.outside import Subject

__all__ = [
    "ApiOrigin",
    "EmailOrigin",
    "Origin",
    "ScheduleOrigin",
    "SlackOrigin",
    "TerminalOrigin",
    "delivery_route",
    "outbox_channel",
]


class _Origin(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TerminalOrigin(_Origin):
    kind: Literal["terminal"] = "terminal"
    session: str


class ApiOrigin(_Origin):
    kind: Literal["api"] = "api"
    client: str = "api"


class SlackOrigin(_Origin):
    kind: Literal["slack"] = "slack"
    channel: str
    thread_ts: str


class EmailOrigin(_Origin):
    kind: Literal["email"] = "email"
    address: str
    subject: Subject  # outside text, one line: never a header break
    message_ids: list[str] = Field(default_factory=list)


class ScheduleOrigin(_Origin):
    kind: Literal["schedule"] = "schedule"
    name: str
    report_to: str | None = None


Origin = Annotated[
    TerminalOrigin | ApiOrigin | SlackOrigin | EmailOrigin | ScheduleOrigin,
    Field(discriminator="kind"),
]


def delivery_route(origin: Origin, route: str | None = None) -> str | None:
    """Where a message goes when not simply back to its origin: its own ``route`` (a copy
    in an approval channel), else a schedule's or webhook's ``report_to``; None: the origin."""
    if route is not None:
        return route
    return origin.report_to if isinstance(origin, ScheduleOrigin) else None


def outbox_channel(origin: Origin, route: str | None = None) -> str:
    """The outbox stream a reply to this origin (or along ``route``, such as
    ``slack:C0DEPLOYS``) is delivered from.

    A terminal session reads only its own replies; the other channels have one deliverer
    each, which may run in any process.
    """
    if (where := delivery_route(origin, route)) is not None:
        return where.partition(":")[0]  # "slack:C0DEPLOYS": the Slack deliverer
    if isinstance(origin, TerminalOrigin):
        return f"terminal:{origin.session}"
    return origin.kind
