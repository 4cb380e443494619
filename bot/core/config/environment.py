"""One environment's policy: approval (who, how many, expiry, escalation), verification after a
deploy, quarantine release, who commands run as, and release policy (promotion order and soak,
overrides, the queue's bound, where deploys are announced). Cross-references to people and
other environments are checked by ``bot.core.config.config.Config``."""

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from bot.core.config.route import check_route
from bot.core.config.service import USER_NAME, Check

__all__ = ["Environment", "RouteText"]

# "slack:C0DEPLOYS" or "email:alice@example.com,bob@example.com" (see bot/core/config/route.py)
RouteText = Annotated[str, AfterValidator(check_route)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Environment(_Strict):
    approval: bool = False
    approvers: list[str] = Field(default_factory=list)
    min_approvals: int = Field(default=1, ge=1)
    self_approval: bool = False
    approval_timeout_s: float = Field(default=3600, gt=0)
    reminder_before_s: float = Field(default=600, ge=0)  # 0: no reminder
    approval_channel: RouteText | None = None
    # Nobody answered for escalate_after_s (default: half the timeout): the request also goes
    # to escalate_to, and escalate_approvers may decide it too.
    escalate_to: RouteText | None = None
    escalate_approvers: list[str] = Field(default_factory=list)
    escalate_after_s: float | None = Field(default=None, gt=0)
    # After a successful deploy here, watch `checks` (and the service's) for verify_s
    # seconds. On a failure: "propose" a rollback to the last verified version (approved
    # by rollback policy) or "rollback" at once. rollback_approval: whether rollbacks here
    # need approval (default: as deploys do).
    verify_s: float | None = Field(default=None, gt=0)
    checks: list[Check] = Field(default_factory=list)
    on_verify_failure: Literal["propose", "rollback"] = "propose"
    rollback_approval: bool | None = None
    # Who may lift a quarantine here ('release ...'): None means the approvers; [] nobody.
    release_by: list[str] | None = None
    # The user commands for this environment run as (a service's own run_as comes first).
    run_as: str | None = Field(default=None, pattern=USER_NAME)
    # Release policy (bot.core.release.promotion): a version (its commit) is planned here only
    # once it was deployed (and verified, where checks are configured) in each of `requires`
    # and stayed live there, unrolled-back, for soak_s. soak_override_by may say
    # "skip soak <reason>".
    requires: list[str] = Field(default_factory=list)
    soak_s: float = Field(default=0, ge=0)
    soak_override_by: list[str] = Field(default_factory=list)
    # Plans that find the pair held wait in line, first in first out; this many at most.
    queue_max: int = Field(default=10, ge=1, le=1000)
    # Where this environment's deploys are announced: started, finished, verified, rolled back.
    announce: RouteText | None = None

    @model_validator(mode="after")
    def _escalation_is_complete(self) -> "Environment":
        escalates = self.escalate_to is not None or bool(self.escalate_approvers)
        if self.escalate_after_s is not None and not escalates:
            raise ValueError("escalate_after_s needs escalate_to or escalate_approvers")
        if escalates and not self.approval:
            raise ValueError("escalate_to/escalate_approvers need approval = true")
        if self.soak_s > 0 and not self.requires:
            raise ValueError("soak_s needs requires (the environments a version soaks in)")
        if self.soak_override_by and not self.requires:
            raise ValueError("soak_override_by needs requires")
        if self.escalate_after_s is not None and self.escalate_after_s >= self.approval_timeout_s:
            raise ValueError(
                f"escalate_after_s ({self.escalate_after_s:g}) must be shorter than "
                f"approval_timeout_s ({self.approval_timeout_s:g})"
            )
        return self

    @property
    def rollback_needs_approval(self) -> bool:
        """Rollbacks here wait for approval as deploys do, unless rollback_approval says."""
        return self.approval if self.rollback_approval is None else self.rollback_approval

    @property
    def escalation_after_s(self) -> float | None:
        """When an unanswered request escalates, in seconds after it was made (None: never)."""
        if self.escalate_to is None and not self.escalate_approvers:
            return None
        return self.escalate_after_s or self.approval_timeout_s / 2
