"""Where a plan is deployed: each service names its target, an argv command or a GitHub
Actions workflow (``bot.core.config.service.Target``). ``Deployers`` routes a plan to the right
one; both
return a ``DeployResult`` and answer ``status`` by idempotency key after a crash. A workflow may
also come to ``OutcomeUnknown``: its run on GitHub may still be going, out of sight."""

from datetime import datetime

from bot.core.config.config import Config
from bot.core.config.service import GithubWorkflow
from bot.core.thread.deploy_result import DeployResult, Keepalive, OnOutput, OutcomeUnknown
from bot.core.thread.plan import Plan
from bot.core.wording.deploys import no_github_credentials_tail
from bot.shell.github.workflow_deployer import WorkflowDeployer
from bot.shell.process.command_deployer import CommandDeployer

__all__ = ["Deployers"]


class Deployers:
    def __init__(
        self, *, config: Config, commands: CommandDeployer, workflows: WorkflowDeployer | None
    ) -> None:
        self._config = config
        self.commands = commands
        self._workflows = workflows

    def runs_on_github(self, plan: Plan) -> bool:
        """The plan runs as a GitHub workflow: it goes on without the worker that started it
        (a command dies with its worker)."""
        service = self._config.services[plan.service]
        target = (
            service.rollback if plan.kind == "rollback" and service.rollback else service.deploy
        )
        return isinstance(target, GithubWorkflow)

    async def run(
        self,
        *,
        plan: Plan,
        idempotency_key: str,
        fencing_token: int,
        on_output: OnOutput | None = None,
        keepalive: Keepalive | None = None,
        silence_s: float | None = None,
    ) -> DeployResult | OutcomeUnknown:
        if not self.runs_on_github(plan):
            return await self.commands.run(
                plan=plan,
                idempotency_key=idempotency_key,
                fencing_token=fencing_token,
                on_output=on_output,
                keepalive=keepalive,
                silence_s=silence_s,
            )
        if self._workflows is None:
            return DeployResult(
                result="failed",
                exit_code=None,
                duration_s=0,
                output_tail=no_github_credentials_tail(plan),
            )
        # The run lives on GitHub, not below this process: ``keepalive`` only tells it
        # whether a cancellation means the lock was lost (then the run is cancelled too).
        return await self._workflows.run(
            plan=plan,
            idempotency_key=idempotency_key,
            fencing_token=fencing_token,
            on_output=on_output,
            keepalive=keepalive,
        )

    async def status(
        self,
        *,
        plan: Plan,
        idempotency_key: str,
        fencing_token: int,
        started_at: datetime | None = None,
    ) -> DeployResult | OutcomeUnknown | None:
        """What the deploy started at ``started_at`` came to; None: the target cannot say."""
        if not self.runs_on_github(plan):
            return await self.commands.status(
                plan=plan, idempotency_key=idempotency_key, fencing_token=fencing_token
            )
        if self._workflows is None:
            return None
        return await self._workflows.status(
            plan=plan,
            idempotency_key=idempotency_key,
            fencing_token=fencing_token,
            started_at=started_at,
        )
