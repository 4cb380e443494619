"""A finding: one thing that is wrong, risky or worth knowing about the settings and the config,
and which long-running commands it stops or warns.

``deploybot check-config`` prints every finding: a ``problem`` (exit status 1), a ``warning``,
or an ``info`` note (printed as an ``ok:`` line: how the config will behave, nothing to fix).
A long-running command refuses to start on a finding that ``refuses`` it and prints, as a
warning, each one that ``warns`` it. The findings themselves are made by
``bot.app.findings.preflight`` (and ``bot.app.findings.release``), ``bot.app.findings.durability``
and
``bot.app.findings.exposure``.
"""

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["SERVICES", "Finding", "Level", "refusal"]

#: The long-running commands (the Procfile's process types, and ``run``).
SERVICES = frozenset({"worker", "web", "run", "mail", "clock"})

Level = Literal["problem", "warning", "info"]


@dataclass(frozen=True)
class Finding:
    level: Level
    text: str
    #: Commands that must not start with this finding.
    refuses: frozenset[str] = field(default_factory=frozenset)
    #: Commands that start but print this finding as a warning.
    warns: frozenset[str] = field(default_factory=frozenset)


def refusal(found: list[Finding], command: str) -> Finding | None:
    """The first finding that stops ``command`` from starting, if any."""
    return next((f for f in found if command in f.refuses), None)
