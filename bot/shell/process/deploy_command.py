"""The deploy command of a plan: its argv and the deploy variables, before anything runs.

The command is the service's argv template from the config (its ``rollback`` template for a
rollback when it has one, else its ``deploy``; its ``status`` template when asked), with
``./`` and ``../`` paths resolved against the config file's folder and placeholders
(``{service}``, ``{version}``, ``{environment}``, ``{sha}``, ``{previous_version}``,
``{idempotency_key}``) filled in per argument, in one pass: it never passes through a shell,
so a version like ``v1; rm -rf /`` stays one argument, and a value that itself looks like
``{sha}`` is not expanded again.

The deploy variables tell the command which plan it runs:

    DEPLOYBOT_IDEMPOTENCY_KEY  DEPLOYBOT_FENCING_TOKEN  DEPLOYBOT_KIND
    DEPLOYBOT_SERVICE  DEPLOYBOT_VERSION  DEPLOYBOT_ENVIRONMENT  DEPLOYBOT_SHA
    DEPLOYBOT_PREVIOUS_VERSION (empty on a first deploy)
"""

import re

from bot.core.config.config import Config
from bot.core.thread.plan import Plan

__all__ = ["command_argv", "command_template", "deploy_variables"]

_PLACEHOLDER = re.compile(r"\{(service|version|environment|sha|previous_version|idempotency_key)\}")


def command_template(config: Config, plan: Plan, *, status: bool = False) -> list[str]:
    """The argv template of ``plan``'s command (its status command when ``status``);
    ValueError when the service has none of that kind (or deploys through a workflow)."""
    service = config.services[plan.service]
    if status:
        if not service.status:
            raise ValueError(f"service {plan.service} has no status command")
        return service.status
    # A rollback without its own command deploys the older version.
    target = service.rollback if plan.kind == "rollback" and service.rollback else service.deploy
    if not isinstance(target, list):
        raise ValueError(f"service {plan.service} deploys through a GitHub workflow")
    return target


def command_argv(
    config: Config, plan: Plan, *, idempotency_key: str = "", status: bool = False
) -> list[str]:
    """The exact argv for ``plan``: template chosen by kind, ``./`` paths resolved against
    the config's folder, placeholders filled in per argument."""
    values = {
        "service": plan.service,
        "version": plan.version,
        "environment": plan.environment,
        "sha": plan.sha,
        "previous_version": plan.previous_version or "",
        "idempotency_key": idempotency_key,
    }
    return [
        # One pass: a value that itself looks like "{sha}" is not expanded again.
        _PLACEHOLDER.sub(lambda m: values[m[1]], config.argv_path(arg))
        for arg in command_template(config, plan, status=status)
    ]


def deploy_variables(plan: Plan, *, idempotency_key: str, fencing_token: int) -> dict[str, str]:
    """The variables that tell the plan's commands (deploy, rollback, status) what they run."""
    return {
        "DEPLOYBOT_IDEMPOTENCY_KEY": idempotency_key,
        "DEPLOYBOT_FENCING_TOKEN": str(fencing_token),
        "DEPLOYBOT_KIND": plan.kind,
        "DEPLOYBOT_SERVICE": plan.service,
        "DEPLOYBOT_VERSION": plan.version,
        "DEPLOYBOT_ENVIRONMENT": plan.environment,
        "DEPLOYBOT_SHA": plan.sha,
        "DEPLOYBOT_PREVIOUS_VERSION": plan.previous_version or "",
    }
