"""A service in the config file: where it deploys to (``Target``: an argv command or a
GitHub Actions workflow) and the health checks watched after a deploy (``Check``).

``bot.core.config`` holds the rest of the file (people, environments, schedules, webhooks)
and the cross-references between them; errors raised here are reported there under the
service's key (``services.backend.deploy: ...``).
"""

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.core.childenv import refused_pass_env

__all__ = [
    "Check",
    "CommandCheck",
    "GithubWorkflow",
    "HttpCheck",
    "PrometheusCheck",
    "Service",
    "Target",
]

_PLACEHOLDERS = {
    "{service}",
    "{version}",
    "{environment}",
    "{sha}",
    "{previous_version}",
    "{idempotency_key}",
}
# An environment variable name, as pass_env lists them.
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GithubWorkflow(_Strict):
    """A deploy target that is a GitHub Actions workflow, dispatched with ``inputs``
    (placeholders filled as in an argv command) plus the idempotency key in ``key_input``.

    The workflow must declare that input and show it in its run name, e.g.
    ``run-name: deploy ${{ inputs.version }} [${{ inputs.deploybot_key }}]``: that is how the
    run deploybot started is found among the others (never "the newest run").
    """

    github_workflow: str = Field(
        pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/\.github/workflows/[A-Za-z0-9_.-]+\.ya?ml$",
        description="owner/repo/.github/workflows/deploy.yml",
    )
    ref: str = Field(default="main", min_length=1)
    inputs: dict[str, str] = Field(default_factory=dict)
    key_input: str = Field(default="deploybot_key", pattern=r"^[A-Za-z_][A-Za-z0-9_-]{0,99}$")

    @property
    def owner(self) -> str:
        return self.github_workflow.split("/")[0]

    @property
    def repo(self) -> str:
        return self.github_workflow.split("/")[1]

    @property
    def workflow_file(self) -> str:
        return self.github_workflow.rsplit("/", 1)[1]


class HttpCheck(_Strict):
    """Healthy while ``http`` answers ``expect_status`` (and, with ``body_contains_version``,
    a body that contains the deployed version)."""

    http: str = Field(pattern=r"^https?://[^\s]+$")
    expect_status: int = Field(default=200, ge=100, le=599)
    body_contains_version: bool = False
    timeout_s: float = Field(default=5, gt=0)


class CommandCheck(_Strict):
    """Healthy while the command (argv, placeholders as in deploy) exits 0."""

    command: list[str] = Field(min_length=1)
    timeout_s: float = Field(default=30, gt=0)


class PrometheusCheck(_Strict):
    """Healthy while the PromQL expression's value (every series of it) stays below
    ``below``; asked of ``prometheus_url`` (top level of the config) over its HTTP API."""

    prometheus: str = Field(min_length=1)
    below: float
    timeout_s: float = Field(default=5, gt=0)


Check = HttpCheck | CommandCheck | PrometheusCheck


# An argv command (never a shell string), or a GitHub Actions workflow.
Target = Annotated[list[str], Field(min_length=1)] | GithubWorkflow


class Service(_Strict):
    repo: str
    deploy: Target
    rollback: Target | None = None
    timeout_s: float = Field(default=900, gt=0)
    environments: list[str] = Field(min_length=1)
    # The only variables of the bot's own environment a deploy/rollback/status command gets
    # (besides a short allowlist such as PATH and HOME, and the DEPLOYBOT_* deploy variables).
    pass_env: list[Annotated[str, Field(pattern=_ENV_NAME)]] = Field(default_factory=list)
    # Optional: asked after a crash for a deploy's real result by its idempotency key;
    # exits 0 = succeeded, 1 = failed, 3 = unknown.
    status: list[str] | None = Field(default=None, min_length=1)
    # Optional: watched after a successful deploy, with the environment's (see Environment).
    verify_s: float | None = Field(default=None, gt=0)
    checks: list[Check] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _targets_have_a_shape(cls, data: object) -> object:
        """One clear line instead of an error per member of the union."""
        if isinstance(data, dict):
            for field in ("deploy", "rollback"):
                value = data.get(field)
                if value is not None and not isinstance(value, list | dict):
                    raise ValueError(
                        f"{field}: must be a command (a list of arguments, never a shell "
                        "string) or a table with github_workflow"
                    )
        return data

    @model_validator(mode="after")
    def _pass_env_is_not_the_bots(self) -> "Service":
        if refused := refused_pass_env(self.pass_env):
            raise ValueError(
                f"pass_env: {', '.join(refused)} "
                + ("is" if len(refused) == 1 else "are")
                + " deploybot's own; a deploy command must never get "
                + ("it" if len(refused) == 1 else "them")
                + " (code being deployed would act as the bot)"
            )
        return self

    @model_validator(mode="after")
    def _placeholders_are_whole_words(self) -> "Service":
        for field in ("deploy", "rollback", "status"):
            target = getattr(self, field) or []
            argv = (
                [target.ref, *target.inputs.values()]
                if isinstance(target, GithubWorkflow)
                else target
            )
            for arg in argv:
                for found in re.findall(r"\{[^}]*\}", arg):
                    if found not in _PLACEHOLDERS:
                        raise ValueError(
                            f"{field}: unknown placeholder {found}; "
                            f"use {', '.join(sorted(_PLACEHOLDERS))}"
                        )
        return self
