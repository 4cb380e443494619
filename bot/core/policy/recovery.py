"""What the next worker may take as the result of a deploy whose worker died before saving it
(invariant 3: it is never run again). Pure; bot/shell/deploy/recovery.py asks the places and
acts on the answer.

1. The deploy history: a line for this thread's plan (same kind, version and commit), written
   at or after its ``deploy_started``, with a result (not ``interrupted``) is the result.
2. Else the target, asked by idempotency key: a status command's exit 0 or 1 says succeeded
   or failed; anything else it says (its own timeout, exit 3) says nothing. A GitHub
   workflow run's result is GitHub's word, whatever it is.
3. Else nobody knows: the deploy is interrupted and its pair held for a person.
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.core.thread.deploy_result import DeployResult, OutcomeUnknown
from bot.core.thread.plan import DeployRecord, Plan

__all__ = ["ReadBack", "from_recorded", "from_target"]


class ReadBack(BaseModel):
    """The result read back from the history, and when the history says it finished."""

    model_config = ConfigDict(frozen=True)

    result: Literal["succeeded", "failed", "timed_out"]
    finished_at: datetime


def from_recorded(
    history: list[DeployRecord], *, thread_id: str, plan: Plan, started_at: datetime
) -> ReadBack | None:
    """The result the history recorded for this start of ``plan`` in ``thread_id``; None
    when it has none (or only the line of an interruption)."""
    for record in history:
        if (
            record.thread_id == thread_id
            and record.kind == plan.kind
            and record.version == plan.version
            and record.sha == plan.sha
            and datetime.fromisoformat(record.at) >= started_at
        ):
            if record.result == "interrupted":
                return None
            return ReadBack(result=record.result, finished_at=datetime.fromisoformat(record.at))
    return None


def from_target(
    asked: DeployResult | OutcomeUnknown | None, *, on_github: bool
) -> DeployResult | None:
    """The target's answer when it tells what happened (see the module docstring); None when
    it does not, or could not be asked."""
    if not isinstance(asked, DeployResult):
        return None
    return asked if asked.exit_code in (0, 1) or on_github else None
