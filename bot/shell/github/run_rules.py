"""The pure parts of following a workflow run: the dispatch's inputs, which run title shows
a key, where a run is (progress), and what it came to (result and a short summary, worded by
bot.core.reports.workflow_runs)."""

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.core.config.service import GithubWorkflow
from bot.core.reports import workflow_runs as words
from bot.core.thread.plan import Plan
from bot.core.thread.text.outside import Name, Url
from bot.shell.github.models import RunJob, WorkflowRun

__all__ = [
    "OnProgress",
    "RunProgress",
    "fill_inputs",
    "has_key",
    "progress_of",
    "result_of",
    "summary_of",
]

_PLACEHOLDER = re.compile(r"\{(service|version|environment|sha|previous_version|idempotency_key)\}")
_KEY_CHARS = r"[A-Za-z0-9_:.-]"


class RunProgress(BaseModel):
    model_config = ConfigDict(frozen=True)

    run_id: int
    status: Name
    job: Name | None = None
    step: Name | None = None
    html_url: Url

    def text(self) -> str:
        where = " / ".join(part for part in (self.job, self.step) if part)
        return f"{self.status}{': ' + where if where else ''} ({self.html_url})"


OnProgress = Callable[[RunProgress], Awaitable[None]]


# -- the pure parts ----------------------------------------------------------------------


def fill_inputs(target: GithubWorkflow, *, plan: Plan, idempotency_key: str) -> dict[str, str]:
    """The dispatch's inputs: placeholders filled in one pass, and the key input set last
    (a configured input of the same name cannot replace the key)."""
    values = {
        "service": plan.service,
        "version": plan.version,
        "environment": plan.environment,
        "sha": plan.sha,
        "previous_version": plan.previous_version or "",
        "idempotency_key": idempotency_key,
    }
    filled = {
        name: _PLACEHOLDER.sub(lambda m: values[m[1]], value)
        for name, value in target.inputs.items()
    }
    return {**filled, target.key_input: idempotency_key}


def has_key(title: str, key: str) -> bool:
    """The run title shows exactly this key (not a longer key that starts or ends with it)."""
    pattern = rf"(?<!{_KEY_CHARS}){re.escape(key)}(?!{_KEY_CHARS})"
    return bool(key) and re.search(pattern, title) is not None


def result_of(conclusion: str | None) -> Literal["succeeded", "failed"]:
    return "succeeded" if conclusion == "success" else "failed"


def progress_of(run: WorkflowRun, jobs: Sequence[RunJob]) -> RunProgress:
    """The run's status and where it is: the first running job and its running step (else
    the first queued one)."""
    job = next((j for j in jobs if j.status == "in_progress"), None) or next(
        (j for j in jobs if j.status != "completed"), None
    )
    step = None
    if job is not None:
        running = [s for s in job.steps if s.status == "in_progress"]
        step = running[0].name if running else None
    return RunProgress(
        run_id=run.id,
        status=run.status or "unknown",
        job=job.name if job else None,
        step=step,
        html_url=run.html_url,
    )


def summary_of(run: WorkflowRun, jobs: Sequence[RunJob]) -> str:
    """A DeployResult's output_tail: the link, the conclusion and what failed."""
    failed: list[str] = []
    for job in jobs:
        if job.conclusion in (None, "success", "skipped", "neutral"):
            continue
        steps = [s.name for s in job.steps if s.conclusion not in (None, "success", "skipped")]
        failed.append(f"{job.name} / {steps[0]}" if steps else job.name)
    lines = [
        words.run_line(url=run.html_url),
        words.conclusion_line(conclusion=run.conclusion or run.status),
        words.failed_line(failed=failed),
    ]
    return "\n".join(line for line in lines if line)
