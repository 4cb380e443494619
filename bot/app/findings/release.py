"""Whether release policy can work as configured (issue 19): findings for check-config and the
start of the processes that deploy, collected by ``bot.app.findings.preflight``. Pure.

- An environment ``requires`` one that a service deploying there does not deploy to: no
  version of that service can ever be promoted there (a problem).
- A required environment where a service's deploys are not verified (no checks, or no
  ``verify_s``): soak counts from the deploy's finish there (a note); without ``soak_s``, a
  deploy there that exited 0 is all that promotion asks (a warning).
- ``soak_s`` without ``soak_override_by``: nobody can say ``skip soak`` (a note).
- A freeze with an empty ``break_glass``: nobody can deploy while it is open (a warning); two
  freezes of one environment whose ``break_glass`` share nobody: nobody can while both are
  open (a note).
- An ``announce`` route whose channel is not set up: announcements would wait in the outbox
  (a problem, as for the other routes in ``bot.app.findings.check``).

Rollbacks are held by neither freezes nor soak (``bot.core.release.gate``), so none of
these stops one; the texts say so where a person might fear it.
"""

from collections.abc import Iterator, Sequence

from bot.app.findings.finding import Finding
from bot.app.settings import Settings
from bot.core.config.config import Config
from bot.core.config.route import route_kind
from bot.core.policy.verification import NothingToVerify, verification_for

__all__ = ["release_policy_findings"]

_DEPLOYING = frozenset({"worker", "run"})


def release_policy_findings(settings: Settings, config: Config | None) -> list[Finding]:
    """What keeps release policy from working as the config seems to mean, in a stable order
    (the environments and freezes in the config's order)."""
    if config is None:
        return []
    return [
        *_unpromotable(config),
        *_unverified(config),
        *_nobody_skips(config),
        *_glass(config),
        *_announce(settings, config),
    ]


def _listed(names: Sequence[str]) -> str:
    """``staging``, ``staging and production``, ``qa, staging and production``."""
    if len(names) < 2:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def _promotions(config: Config) -> Iterator[tuple[str, str, str]]:
    """(environment, an environment it requires, a service deploying to the first)."""
    for ename, env in config.environments.items():
        for required in env.requires:
            for sname, svc in config.services.items():
                if ename in svc.environments:
                    yield ename, required, sname


def _unpromotable(config: Config) -> list[Finding]:
    return [
        Finding(
            "problem",
            f"services.{sname} deploys to {ename}, which requires {required}, but not to "
            f"{required}: no version of {sname} can ever be promoted to {ename}; add "
            f'"{required}" to services.{sname}.environments',
            warns=_DEPLOYING,
        )
        for ename, required, sname in _promotions(config)
        if required not in config.services[sname].environments
    ]


def _unverified(config: Config) -> list[Finding]:
    found = []
    for ename, required, sname in _promotions(config):
        if required not in config.services[sname].environments:
            continue  # never promotable: said by _unpromotable
        wanted = verification_for(config, service=sname, environment=required)
        if not isinstance(wanted, NothingToVerify):
            continue
        soak_s = config.environments[ename].soak_s
        how = f"add checks and verify_s for {sname} in {required}"
        if soak_s > 0:
            found.append(
                Finding(
                    "info",
                    f"environments.{ename}: {sname}'s soak in {required} (soak_s = {soak_s:g}) "
                    f"counts from its deploy's finish there, not from a passed verification "
                    f"({wanted.reason}); to count from a verification, {how}",
                )
            )
        else:
            found.append(
                Finding(
                    "warning",
                    f"environments.{ename}: {sname} needs only a deploy to {required} that "
                    f"exited 0 ({wanted.reason}, no soak_s): a version that breaks {required} "
                    f"can be promoted to {ename} at once; {how}, or set soak_s",
                )
            )
    return found


def _nobody_skips(config: Config) -> list[Finding]:
    return [
        Finding(
            "info",
            f"environments.{ename}: soak_s = {env.soak_s:g} and no soak_override_by: nobody "
            f"can say 'skip soak <reason>' there, so a fix waits out the soak like any version "
            "(rollbacks never wait); name people from [people] in soak_override_by to allow it",
        )
        for ename, env in config.environments.items()
        if env.soak_s > 0 and not env.soak_override_by
    ]


def _glass(config: Config) -> list[Finding]:
    found = [
        Finding(
            "warning",
            f"freezes[{i}] ({freeze.name}): break_glass is empty: nobody can deploy to "
            f"{_listed(freeze.environments)} while it is open, not even a fix (rollbacks "
            "still run); name people from [people] in break_glass to allow "
            "'deploy ... break glass <reason>'",
        )
        for i, freeze in enumerate(config.freezes)
        if not freeze.break_glass
    ]
    freezes = config.freezes
    for i, first in enumerate(freezes):
        for second in freezes[i + 1 :]:
            shared = [e for e in first.environments if e in second.environments]
            glass = set(first.break_glass) & set(second.break_glass)
            if shared and first.break_glass and second.break_glass and not glass:
                found.append(
                    Finding(
                        "info",
                        f"freezes {first.name} and {second.name} both hold "
                        f"{_listed(shared)} and their break_glass lists share nobody: while "
                        "both are open, nobody can break the glass there",
                    )
                )
    return found


def _announce(settings: Settings, config: Config) -> list[Finding]:
    email_ready = settings.smtp_host and settings.email_from and settings.deploybot_secret
    found = []
    for ename, env in config.environments.items():
        route = env.announce
        if route is None:
            continue
        kind = route_kind(route)
        if kind == "slack" and settings.slack_bot_token is None:
            needs = "SLACK_BOT_TOKEN"
        elif kind == "email" and not email_ready:
            needs = "SMTP_HOST, EMAIL_FROM and DEPLOYBOT_SECRET"
        else:
            continue
        found.append(
            Finding(
                "problem",
                f"environments.{ename}.announce: {route} needs {needs}: deploys to {ename} "
                "would not be announced (the announcements wait in the outbox)",
                warns=_DEPLOYING,
            )
        )
    return found
