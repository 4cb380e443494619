"""Routes: where a message goes when it is not simply "back where the thread came from".

A route is a short string in the config and in ``message_sent`` events:

- ``slack:C0DEPLOYS``: a Slack channel (the bot opens one Slack thread there per bot thread);
- ``email:alice@example.com,bob@example.com``: one or more email addresses.

They name an environment's ``approval_channel`` and ``escalate_to``, and a schedule's or a
webhook's ``report_to``. Pure functions only.
"""

import re
from typing import Literal

from bot.core.thread.origin import EmailOrigin, Origin, ScheduleOrigin, SlackOrigin

__all__ = [
    "RouteKind",
    "check_route",
    "email_addresses",
    "origin_route",
    "reaches",
    "route_kind",
    "slack_channel",
]

RouteKind = Literal["slack", "email"]

_SLACK_CHANNEL = re.compile(r"^[A-Z0-9]{2,30}$")
_ADDRESS = re.compile(r"^[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\"]+$")


def check_route(value: str) -> str:
    """The route, normalised (addresses lower-cased); ValueError saying what is wrong."""
    kind, sep, rest = value.strip().partition(":")
    if not sep or not rest.strip():
        raise ValueError(
            f"{value!r} is not a route; use 'slack:<channel id>' or 'email:<address>[,<address>]'"
        )
    rest = rest.strip()
    match kind:
        case "slack":
            if not _SLACK_CHANNEL.match(rest):
                raise ValueError(f"{value!r}: a Slack channel id looks like C0DEPLOYS")
            return f"slack:{rest}"
        case "email":
            addresses = [a.strip().lower() for a in rest.split(",") if a.strip()]
            if not addresses:
                raise ValueError(f"{value!r}: name at least one email address")
            for address in addresses:
                if not _ADDRESS.match(address):
                    raise ValueError(f"{value!r}: {address!r} is not an email address")
            return "email:" + ",".join(dict.fromkeys(addresses))
        case _:
            raise ValueError(f"{value!r}: the channel must be 'slack' or 'email', not {kind!r}")


def route_kind(route: str) -> RouteKind:
    kind = route.partition(":")[0]
    assert kind in ("slack", "email"), f"not a checked route: {route!r}"
    return "slack" if kind == "slack" else "email"


def slack_channel(route: str) -> str | None:
    kind, _, rest = route.partition(":")
    return rest if kind == "slack" and rest else None


def email_addresses(route: str) -> list[str]:
    kind, _, rest = route.partition(":")
    if kind != "email":
        return []
    return [a.strip().lower() for a in rest.split(",") if a.strip()]


def origin_route(origin: Origin) -> str | None:
    """The route replies to this origin already take, if it is one a route can name."""
    match origin:
        case SlackOrigin(channel=channel):
            return f"slack:{channel}"
        case EmailOrigin(address=address):
            return f"email:{address.lower()}"
        case ScheduleOrigin(report_to=report_to):
            return report_to
        case _:
            return None


def reaches(origin: Origin, route: str, *, emailed: frozenset[str] = frozenset()) -> bool:
    """Whether messages to ``origin`` already reach everyone ``route`` names.

    ``emailed``: addresses an approval request in an email thread is sent to anyway (the
    approvers'), so an email route naming only them adds nothing.
    """
    own = origin_route(origin)
    if own is None:
        return False
    if route_kind(route) == "slack":
        return own == route
    if route_kind(own) != "email":
        return False
    return set(email_addresses(route)) <= set(email_addresses(own)) | emailed
