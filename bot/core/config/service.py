"""A service in the config file: where it deploys to (``Target``: an argv command or a
GitHub Actions workflow) and the health checks watched after a deploy (``Check``).

``bot.core.config.config`` holds the rest of the file (people, environments, schedules, webhooks)
and the cross-references between them; errors raised here are reported there under the
service's key (``services.backend.deploy: ...``).
"""

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from bot.core.config.childenv import refused_pass_env

__all__ = [
    "USER_NAME",
    "Check",
    "CommandCheck",
    "GithubWorkflow",
    "HttpCheck",
    "OnNoData",
    "PrometheusCheck",
    "Service",
    "Target",
    "repo_credentials",
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
#: A user name as ``run_as`` takes it (the portable POSIX user name, as useradd accepts).
USER_NAME = r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}$"


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


# What a check that observed nothing (no series, NaN, no answer, timed out) counts as:
# a failure (the default: no data is not health), or neither green nor failing.
OnNoData = Literal["fail", "ignore"]


class HttpCheck(_Strict):
    """Healthy while ``http`` answers ``expect_status`` (and, with ``body_contains_version``,
    a body that contains the deployed version). No answer in time is no data."""

    http: str = Field(pattern=r"^https?://[^\s]+$")
    expect_status: int = Field(default=200, ge=100, le=599)
    body_contains_version: bool = False
    timeout_s: float = Field(default=5, gt=0)
    on_no_data: OnNoData = "fail"


class CommandCheck(_Strict):
    """Healthy while the command (argv, placeholders as in deploy) exits 0: its exit code is
    what it observes; a command stopped at ``timeout_s`` observed nothing (no data)."""

    command: list[str] = Field(min_length=1)
    timeout_s: float = Field(default=30, gt=0)
    on_no_data: OnNoData = "fail"


class PrometheusCheck(_Strict):
    """Healthy while the PromQL expression's value (every series of it) stays below
    ``below``; asked of ``prometheus_url`` (top level of the config) over its HTTP API. No
    series, NaN, or no answer from Prometheus is no data."""

    prometheus: str = Field(min_length=1)
    below: float
    timeout_s: float = Field(default=5, gt=0)
    on_no_data: OnNoData = "fail"


def _check_kind(value: object) -> str | None:
    """Which kind of check a table is, by its one naming key (one clear error otherwise,
    instead of one per kind it is not)."""
    keys = value if isinstance(value, dict) else vars(value) if isinstance(value, BaseModel) else {}
    kinds = [kind for kind in ("http", "command", "prometheus") if kind in keys]
    return kinds[0] if len(kinds) == 1 else None


Check = Annotated[
    Annotated[HttpCheck, Tag("http")]
    | Annotated[CommandCheck, Tag("command")]
    | Annotated[PrometheusCheck, Tag("prometheus")],
    Discriminator(
        _check_kind,
        custom_error_type="check_kind",
        custom_error_message="a check has exactly one of http, command or prometheus",
    ),
]


# An argv command (never a shell string), or a GitHub Actions workflow.
Target = Annotated[list[str], Field(min_length=1)] | GithubWorkflow


def repo_credentials(repo: str) -> bool:
    """True when a repository URL carries a credential (``https://token@host/...``,
    ``scheme://user:password@host/...``): git would get it in its argv, which every local
    process can read in /proc. ``ssh://git@host`` and ``git@host:owner/repo`` name a user,
    not a secret."""
    scheme, sep, rest = repo.partition("://")
    if not sep:
        return False
    userinfo, at, _ = rest.partition("/")[0].rpartition("@")
    if not at:
        return False
    return scheme.lower() in ("http", "https") or ":" in userinfo


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
    # exits 0 = succeeded, 1 = failed, 2 = started without a result, 3 = unknown.
    status: list[str] | None = Field(default=None, min_length=1)
    # Optional: watched after a successful deploy, with the environment's (see Environment).
    verify_s: float | None = Field(default=None, gt=0)
    checks: list[Check] = Field(default_factory=list)
    # The user its commands run as when deploybot runs as root (bot.core.config.principal).
    run_as: str | None = Field(default=None, pattern=USER_NAME)

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
    def _repo_has_no_credentials(self) -> "Service":
        if repo_credentials(self.repo):
            raise ValueError(
                "repo: the URL carries a credential, which would be in git's command line "
                "(readable by every local process); use a credential helper or an SSH key"
            )
        return self

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
