"""The deploy result: what running a deploy, rollback or status command comes to.

Pure values shared by every way of deploying (an argv command,
bot/shell/process/command_deployer.py; a
GitHub workflow, bot/shell/github/workflow_deployer.py) and by those who wait for them:

- ``DeployResult``: succeeded, failed or timed out; the exit code (negative: killed by that
  signal; None: never started or not known); how long it took; the redacted, compacted end
  of its output; a link to where it can be seen (a workflow run).
- ``OutcomeUnknown``: a deploy that may still be running where the bot can neither see nor
  stop it (a GitHub run whose cancel GitHub has not confirmed, a dispatch whose run never
  showed): nobody knows how it ends, so its service and environment stay held for a person;
- ``Keepalive``: whether the worker still holds what lets the command run (the deploy's
  lock); the deployer's dead-man's switch asks it.
- ``OnOutput``: the callback that gets the latest redacted output line as it comes.
"""

from collections.abc import Awaitable, Callable
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from bot.core.thread.text.outside import Output, Url

__all__ = ["DeployResult", "Keepalive", "OnOutput", "OutcomeUnknown"]


class Keepalive(Protocol):
    """Whether the worker still holds what lets the command run (the deploy's lock)."""

    def fresh(self) -> bool: ...


class DeployResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    result: Literal["succeeded", "failed", "timed_out"]
    exit_code: int | None  # negative: killed by that signal; None: never started
    duration_s: float
    output_tail: Output  # redacted, compacted, cleaned (bot.core.thread.text.outside)
    link: Url | None = None  # where to see it (a workflow run)


class OutcomeUnknown(BaseModel):
    """It may still be running, out of the bot's sight: held for a person, never "failed"."""

    model_config = ConfigDict(frozen=True)

    reason: Output  # what is known: what was asked of the target and what it did not say
    duration_s: float
    link: Url | None = None  # where a person can look (a workflow run)


OnOutput = Callable[[str], Awaitable[None]]
