"""GitHub Deployments: the record of a workflow deploy on the repository's Environments page.

One Deployment per deploy, for the plan's commit and environment, carrying the idempotency
key and fencing token in its payload; its statuses follow the run: ``in_progress`` once the
run is found, then ``success``, ``failure`` or ``error``. None of it ever fails a deploy: a
Deployment that cannot be recorded is logged and the deploy goes on. After a crash the next
worker finds the Deployment by the key in its payload and finishes its statuses.
"""

import logging

from bot.core.config.service import GithubWorkflow
from bot.core.thread.plan import Plan
from bot.shell.github.client import GithubClient
from bot.shell.github.errors import GithubError

__all__ = ["Deployments"]

log = logging.getLogger(__name__)


class Deployments:
    def __init__(self, *, client: GithubClient) -> None:
        self._client = client

    async def record(
        self, target: GithubWorkflow, plan: Plan, key: str, fencing_token: int
    ) -> int | None:
        """A new Deployment for ``plan``; its id, or None when GitHub did not record it."""
        try:
            deployment = await self._client.create_deployment(
                target.owner,
                target.repo,
                ref=plan.sha,
                environment=plan.environment,
                description=f"deploybot: {plan.kind} {plan.service} {plan.version}"[:140],
                payload={"deploybot_key": key, "fencing_token": fencing_token},
            )
        except GithubError as exc:
            log.warning("recording a GitHub Deployment failed; deploying anyway: %s", exc)
            return None
        return deployment.id

    async def find(self, target: GithubWorkflow, plan: Plan, key: str) -> int | None:
        """The Deployment an earlier worker recorded for this key; None if there is none."""
        try:
            found = await self._client.deployments(
                target.owner, target.repo, sha=plan.sha, environment=plan.environment
            )
        except GithubError as exc:
            log.warning("cannot find the Deployment of %s: %s", key, exc)
            return None
        for deployment in found:
            payload = deployment.payload
            if isinstance(payload, dict) and payload.get("deploybot_key") == key:
                return deployment.id
        return None

    async def status(
        self,
        target: GithubWorkflow,
        deployment: int | None,
        state: str,
        log_url: str,
        description: str = "",
    ) -> None:
        """Add a status to ``deployment`` (nothing when there is none); failures are logged."""
        if deployment is None:
            return
        try:
            await self._client.create_deployment_status(
                target.owner, target.repo, deployment, state=state, log_url=log_url,
                description=description,
            )  # fmt: skip
        except GithubError as exc:
            log.warning("recording a Deployment status failed: %s", exc)
