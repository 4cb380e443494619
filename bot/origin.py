"""Where a thread came from, and so where its replies go."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ApiOrigin",
    "EmailOrigin",
    "Origin",
    "ScheduleOrigin",
    "SlackOrigin",
    "TerminalOrigin",
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
    subject: str
    message_ids: list[str] = Field(default_factory=list)


class ScheduleOrigin(_Origin):
    kind: Literal["schedule"] = "schedule"
    name: str
    report_to: str | None = None


Origin = Annotated[
    TerminalOrigin | ApiOrigin | SlackOrigin | EmailOrigin | ScheduleOrigin,
    Field(discriminator="kind"),
]


def outbox_channel(origin: Origin, route: str | None = None) -> str:
    """The outbox stream a reply to this origin (or along ``route``, such as
    ``slack:C0DEPLOYS``) is delivered from.

    A terminal session reads only its own replies; the other channels have one deliverer
    each, which may run in any process.
    """
    if route is not None:
        return route.partition(":")[0]
    if isinstance(origin, TerminalOrigin):
        return f"terminal:{origin.session}"
    if isinstance(origin, ScheduleOrigin) and origin.report_to:
        # A schedule or webhook reports where its config says: "slack:C0DEPLOYS" goes out
        # through the Slack deliverer, "email:ops@example.com" through email.
        channel = origin.report_to.partition(":")[0]
        if channel in ("slack", "email"):
            return channel
    return origin.kind
