"""``bot.shell.deploy.targets.Deployers`` on its own: a plan goes to the deployer its
service's target names (an argv command, or a GitHub workflow; a rollback to the service's
rollback target when it has one), and a workflow target without GitHub credentials fails
plainly without dispatching anything, and cannot say what a past run came to."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pytest

from bot.core.config.config import Config, parse_config
from bot.core.thread.deploy_result import DeployResult, OutcomeUnknown
from bot.core.thread.plan import Plan
from bot.shell.deploy.targets import Deployers

CONFIG = """
[people.carol]
slack = "U0CAROL"

[services.backend]
repo = "/nowhere/backend"
deploy = ["./deploy.sh", "{version}"]
environments = ["staging"]

[services.web]
repo = "/nowhere/web"
environments = ["staging"]
rollback = ["./rollback.sh", "{version}"]

[services.web.deploy]
github_workflow = "acme/web/.github/workflows/deploy.yml"

[services.api]
repo = "/nowhere/api"
deploy = ["./deploy.sh"]
environments = ["staging"]

[services.api.rollback]
github_workflow = "acme/api/.github/workflows/rollback.yml"

[environments.staging]
approval = false
"""

STARTED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@dataclass
class Recorder:
    """A deployer that says who it is in its result and records what it was asked."""

    name: str
    calls: list[tuple[str, str]] = field(default_factory=list)

    async def run(self, *, plan: Plan, **_: object) -> DeployResult | OutcomeUnknown:
        self.calls.append(("run", plan.service))
        return DeployResult(result="succeeded", exit_code=0, duration_s=1, output_tail=self.name)

    async def status(self, *, plan: Plan, **_: object) -> DeployResult | OutcomeUnknown | None:
        self.calls.append(("status", plan.service))
        return DeployResult(result="succeeded", exit_code=0, duration_s=1, output_tail=self.name)


def config() -> Config:
    return parse_config(CONFIG, base_dir=Path("/nowhere"))


def plan(service: str, kind: Literal["deploy", "rollback"] = "deploy") -> Plan:
    return Plan(
        kind=kind,
        service=service,
        environment="staging",
        version="v1.1.0",
        sha="b" * 40,
        requester="carol",
        previous_version="v1.0.0" if kind == "rollback" else None,
    )


def deployers(*, with_github: bool = True) -> tuple[Deployers, Recorder, Recorder]:
    commands, workflows = Recorder("command"), Recorder("workflow")
    routed = Deployers(
        config=config(),
        commands=commands,  # type: ignore[arg-type]
        workflows=workflows if with_github else None,  # type: ignore[arg-type]
    )
    return routed, commands, workflows


@pytest.mark.parametrize(
    ("service", "kind", "expected"),
    [
        ("backend", "deploy", "command"),
        ("backend", "rollback", "command"),  # no rollback target: its deploy command
        ("web", "deploy", "workflow"),
        ("web", "rollback", "command"),  # its own rollback command
        ("api", "deploy", "command"),
        ("api", "rollback", "workflow"),  # its own rollback workflow
    ],
)
async def test_a_plan_goes_to_the_deployer_its_services_target_names(
    service: str, kind: Literal["deploy", "rollback"], expected: str
) -> None:
    routed, commands, workflows = deployers()
    the_plan = plan(service, kind)

    assert routed.runs_on_github(the_plan) == (expected == "workflow")
    result = await routed.run(plan=the_plan, idempotency_key="k1", fencing_token=7)
    answer = await routed.status(
        plan=the_plan, idempotency_key="k1", fencing_token=7, started_at=STARTED
    )

    assert isinstance(result, DeployResult)
    assert result.output_tail == expected
    assert isinstance(answer, DeployResult)
    assert answer.output_tail == expected
    chosen, other = (workflows, commands) if expected == "workflow" else (commands, workflows)
    assert chosen.calls == [("run", service), ("status", service)]
    assert other.calls == []


async def test_a_workflow_target_without_github_credentials_fails_and_dispatches_nothing() -> None:
    routed, commands, _ = deployers(with_github=False)

    result = await routed.run(plan=plan("web"), idempotency_key="k1", fencing_token=7)

    assert isinstance(result, DeployResult)
    assert result.result == "failed"
    assert result.exit_code is None
    assert "web" in result.output_tail
    assert "GITHUB_TOKEN" in result.output_tail
    assert commands.calls == []
    assert await routed.status(plan=plan("web"), idempotency_key="k1", fencing_token=7) is None


async def test_a_command_target_runs_without_github_credentials() -> None:
    routed, commands, _ = deployers(with_github=False)
    result = await routed.run(plan=plan("backend"), idempotency_key="k1", fencing_token=7)
    assert isinstance(result, DeployResult)
    assert result.result == "succeeded"
    assert commands.calls == [("run", "backend")]
