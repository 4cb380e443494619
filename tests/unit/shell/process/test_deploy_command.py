"""``bot.shell.process.deploy_command`` (pure): the argv of a plan's command, filled in per
argument in one pass with ``./`` paths resolved against the config's folder, the template
chosen by kind, and the deploy variables that tell the command what it runs."""

from pathlib import Path
from typing import Literal

import pytest

from bot.core.config.config import Config, parse_config
from bot.core.thread.plan import Plan
from bot.shell.process.deploy_command import command_argv, command_template, deploy_variables

CONFIG = """
[people.carol]
slack = "U0CAROL"

[services.backend]
repo = "/nowhere/backend"
deploy = [
  "./bin/deploy.sh", "--to={environment}", "{service}@{version}", "{sha}",
  "{previous_version}", "/usr/bin/true",
]
rollback = ["../ops/rollback.sh", "{previous_version}->{version}"]
status = ["./status.sh", "{idempotency_key}"]
environments = ["staging"]

[services.plain]
repo = "/nowhere/plain"
deploy = ["deploy-plain", "{version}"]
environments = ["staging"]

[services.web]
repo = "/nowhere/web"
environments = ["staging"]

[services.web.deploy]
github_workflow = "acme/web/.github/workflows/deploy.yml"

[environments.staging]
approval = false
"""

SHA = "c" * 40


def config() -> Config:
    return parse_config(CONFIG, base_dir=Path("/srv/deploybot"))


def plan(
    service: str = "backend",
    *,
    kind: Literal["deploy", "rollback"] = "deploy",
    version: str = "v1.2.0",
    previous_version: str | None = "v1.1.0",
) -> Plan:
    return Plan(
        kind=kind,
        service=service,
        environment="staging",
        version=version,
        sha=SHA,
        requester="carol",
        previous_version=previous_version,
    )


def test_a_deploy_argv_is_its_template_filled_in_per_argument() -> None:
    assert command_argv(config(), plan()) == [
        "/srv/deploybot/bin/deploy.sh",
        "--to=staging",
        "backend@v1.2.0",
        SHA,
        "v1.1.0",
        "/usr/bin/true",  # absolute: left alone
    ]


def test_a_first_deploy_fills_the_previous_version_with_nothing() -> None:
    argv = command_argv(config(), plan(previous_version=None))
    assert argv[4] == ""
    assert len(argv) == 6  # still its own (empty) argument


def test_a_rollback_uses_the_services_rollback_template() -> None:
    argv = command_argv(config(), plan(kind="rollback", version="v1.0.0"))
    assert argv == ["/srv/ops/rollback.sh", "v1.1.0->v1.0.0"]


def test_a_rollback_without_its_own_template_deploys_the_older_version() -> None:
    argv = command_argv(config(), plan("plain", kind="rollback", version="v0.9.0"))
    assert argv == ["deploy-plain", "v0.9.0"]


def test_the_status_argv_carries_the_idempotency_key() -> None:
    argv = command_argv(config(), plan(), idempotency_key="key-42", status=True)
    assert argv == ["/srv/deploybot/status.sh", "key-42"]


@pytest.mark.parametrize(
    "version",
    [
        "v1; rm -rf /",  # never through a shell: one argument, unchanged
        "$(reboot)",
        "v1 v2",
        "{sha}",  # a value that looks like a placeholder is not expanded again
        "{idempotency_key}",
    ],
)
def test_a_value_stays_one_argument_exactly_as_given(version: str) -> None:
    argv = command_argv(config(), plan("plain", version=version), idempotency_key="k")
    assert argv == ["deploy-plain", version]


def test_a_service_without_a_status_command_has_no_status_template() -> None:
    with pytest.raises(ValueError, match="plain has no status command"):
        command_template(config(), plan("plain"), status=True)


def test_a_workflow_target_has_no_argv() -> None:
    with pytest.raises(ValueError, match="web deploys through a GitHub workflow"):
        command_argv(config(), plan("web"))


def test_the_deploy_variables_name_the_plan_the_key_and_the_token() -> None:
    assert deploy_variables(plan(), idempotency_key="key-42", fencing_token=1234) == {
        "DEPLOYBOT_IDEMPOTENCY_KEY": "key-42",
        "DEPLOYBOT_FENCING_TOKEN": "1234",
        "DEPLOYBOT_KIND": "deploy",
        "DEPLOYBOT_SERVICE": "backend",
        "DEPLOYBOT_VERSION": "v1.2.0",
        "DEPLOYBOT_ENVIRONMENT": "staging",
        "DEPLOYBOT_SHA": SHA,
        "DEPLOYBOT_PREVIOUS_VERSION": "v1.1.0",
    }


def test_a_first_deploys_previous_version_variable_is_empty() -> None:
    variables = deploy_variables(
        plan(kind="rollback", previous_version=None), idempotency_key="k", fencing_token=1
    )
    assert variables["DEPLOYBOT_PREVIOUS_VERSION"] == ""
    assert variables["DEPLOYBOT_KIND"] == "rollback"
