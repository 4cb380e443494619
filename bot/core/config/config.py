"""The config file: people, environments (approval policy, escalation, verification),
schedules, freeze windows (``bot.core.config.freeze``), webhooks and the services
(``bot.core.config.service``), validated at start; and
``parse_config``, which reads its text (the file itself is read by the wiring,
``bot.app.config_file``: the core does no I/O).

Errors name the key that is wrong (``services.backend.environments[1]: ...``) so an operator
can fix the file without reading code. Relative paths in the file are relative to the file's
own folder, joined by name: ``base_dir`` comes in whole (absolute, links resolved) from
whoever read the file, so nothing here asks the file system.
"""

import functools
import re
import tomllib
from pathlib import PurePath
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from bot.core.config.environment import Environment, RouteText
from bot.core.config.freeze import Freeze, check_freezes
from bot.core.config.route import email_addresses
from bot.core.config.service import USER_NAME, PrometheusCheck, Service
from bot.core.errors import ConfigError
from bot.core.thread.text.actor import Actor

__all__ = [
    "Config",
    "Environment",
    "Freeze",
    "Person",
    "Schedule",
    "Webhook",
    "parse_config",
]

_NAME = r"^[a-z][a-z0-9_-]{0,39}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Person(_Strict):
    slack: str | None = None
    email: str | None = None


class Schedule(_Strict):
    name: str = Field(pattern=_NAME)
    cron: str
    timezone: str = "UTC"
    instruction: str = Field(min_length=1)
    report_to: RouteText | None = None
    missed: Literal["skip", "run_once"] = "skip"

    @model_validator(mode="after")
    def _cron_and_zone_are_valid(self) -> "Schedule":
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        from croniter import croniter

        if not croniter.is_valid(self.cron):
            raise ValueError(f"cron: {self.cron!r} is not a cron expression")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"timezone: unknown time zone {self.timezone!r}") from exc
        return self


class Webhook(_Strict):
    """A signed HTTP trigger (``POST /v1/webhooks/<name>``) mapped to an instruction.

    ``{field}`` placeholders are filled from the JSON body's top-level fields; each value
    must be one word of letters, digits and ``._+/-`` (so a payload cannot add words to the
    instruction).
    """

    instruction: str = Field(min_length=1)
    report_to: RouteText | None = None


class Config(_Strict):
    people: dict[str, Person] = Field(default_factory=dict)
    services: dict[str, Service] = Field(min_length=1)
    environments: dict[str, Environment] = Field(min_length=1)
    schedules: list[Schedule] = Field(default_factory=list)
    freezes: list[Freeze] = Field(default_factory=list)
    webhooks: dict[str, Webhook] = Field(default_factory=dict)
    # Where Prometheus checks are asked (its HTTP API: <url>/api/v1/query).
    prometheus_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    # Who commands run as when no service or environment says (bot.core.config.principal).
    run_as: str | None = Field(default=None, pattern=USER_NAME)
    base_dir: PurePath = PurePath(".")

    @model_validator(mode="after")
    def _cross_references(self) -> "Config":
        for kind, names in (
            ("people", self.people),
            ("services", self.services),
            ("environments", self.environments),
        ):
            for name in names:
                if not re.match(_NAME, name):
                    raise ValueError(
                        f"{kind}.{name}: names are lower-case letters, digits, '-' or '_'"
                    )
        self._identities_are_unique()
        check_freezes(self.freezes, environments=self.environments, people=self.people)
        for sname, service in self.services.items():
            for i, env in enumerate(service.environments):
                if env not in self.environments:
                    raise ValueError(
                        f"services.{sname}.environments[{i}]: unknown environment {env!r} "
                        f"(defined: {', '.join(sorted(self.environments))})"
                    )
        owners = [
            *((f"services.{n}", svc.checks) for n, svc in self.services.items()),
            *((f"environments.{n}", env.checks) for n, env in self.environments.items()),
        ]
        for owner, checks in owners:
            for i, check in enumerate(checks):
                if isinstance(check, PrometheusCheck) and self.prometheus_url is None:
                    raise ValueError(
                        f"{owner}.checks[{i}]: a prometheus check needs prometheus_url at the "
                        "top of the config"
                    )
        for ename, envc in self.environments.items():
            for key in ("approvers", "escalate_approvers", "release_by", "soak_override_by"):
                for i, person in enumerate(getattr(envc, key) or []):
                    if person not in self.people:
                        raise ValueError(
                            f"environments.{ename}.{key}[{i}]: {person!r} is not in [people]"
                        )
            self._routes_reach_people(ename, envc)
            self._promotion_order(ename, envc)
            if envc.approval and not envc.approvers:
                raise ValueError(f"environments.{ename}.approvers: approval = true needs approvers")
            if envc.approval and envc.min_approvals > len(envc.approvers):
                raise ValueError(
                    f"environments.{ename}.min_approvals: {envc.min_approvals} approvals "
                    f"needed but only {len(envc.approvers)} approvers named"
                )
        return self

    def _identities_are_unique(self) -> None:
        """One Slack id or email address is one person: otherwise a message from it would
        count as whichever of them the lookup finds first (an approval as the wrong one)."""
        owners: dict[tuple[str, str], str] = {}
        for name, person in self.people.items():
            for key, value in (("slack", person.slack), ("email", person.email)):
                if value is None:
                    continue
                owner = owners.setdefault((key, value.strip().lower()), name)
                if owner != name:
                    raise ValueError(f"people.{name}.{key}: {value} is already {owner}'s")

    def _promotion_order(self, ename: str, envc: Environment) -> None:
        """``requires`` names other environments, and no chain of them comes back here."""
        for i, required in enumerate(envc.requires):
            if required not in self.environments or required == ename:
                raise ValueError(
                    f"environments.{ename}.requires[{i}]: {required!r} is not another "
                    f"environment (defined: {', '.join(sorted(self.environments))})"
                )
        seen, todo = set[str](), list(envc.requires)
        while todo:
            name = todo.pop()
            if name == ename:
                raise ValueError(f"environments.{ename}.requires: the order comes back to {ename}")
            if name not in seen and name in self.environments:
                seen.add(name)
                todo.extend(self.environments[name].requires)

    def _routes_reach_people(self, ename: str, envc: Environment) -> None:
        """An approval email is only worth sending to someone whose answer can count."""
        known = {p.email.lower(): name for name, p in self.people.items() if p.email}
        for field, allowed in (
            ("approval_channel", envc.approvers),
            ("escalate_to", [*envc.approvers, *envc.escalate_approvers]),
        ):
            route = getattr(envc, field)
            for address in email_addresses(route or ""):
                if known.get(address) not in allowed:
                    raise ValueError(
                        f"environments.{ename}.{field}: {address} is not the email of one of "
                        f"the people who may approve ({', '.join(allowed) or 'nobody'})"
                    )

    # -- lookups used by policy, grammar and the loop ------------------------------------

    def person_for(self, actor: Actor) -> str | None:
        """The [people] name behind a channel identity such as ``slack:U0ALICE``."""
        channel, ident = actor.channel, actor.id
        if channel in ("terminal", "api"):
            return ident if ident in self.people else None
        for name, person in self.people.items():
            if channel == "slack" and person.slack == ident:
                return name
            if channel == "email" and person.email and person.email.lower() == ident.lower():
                return name
        return None

    def argv_path(self, arg: str) -> str:
        """Resolve ``./x`` and ``../x`` relative to the config file's folder."""
        if arg.startswith(("./", "../")):
            return _joined(self.base_dir, arg)
        return arg

    def repo_location(self, service: str) -> str:
        repo = self.services[service].repo
        if "://" in repo or repo.startswith("git@"):
            return repo
        return repo if PurePath(repo).is_absolute() else _joined(self.base_dir, repo)


@functools.lru_cache(maxsize=1024)  # the same few paths (repositories, scripts) every turn
def _joined(base: PurePath, relative: str) -> str:
    """``base / relative`` with each ``..`` taken out by name (above the root: the root)."""
    joined = base / relative
    parts: list[str] = []
    for part in joined.parts[1:] if joined.anchor else joined.parts:
        if part != "..":
            parts.append(part)
        elif parts and parts[-1] != "..":
            parts.pop()
        elif not joined.anchor:
            parts.append(part)
    return str(PurePath(joined.anchor, *parts))


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def parse_config(text: str, *, base_dir: PurePath, source: str = "config") -> Config:
    """The config in ``text`` (from ``source``, named in errors), or a ``ConfigError``
    naming the key."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    raw["base_dir"] = base_dir
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = _location(tuple(err["loc"]))
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{loc}: {msg}" if loc else msg)
        raise ConfigError(f"{source}: " + "; ".join(lines)) from exc
