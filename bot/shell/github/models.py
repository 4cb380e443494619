"""The few GitHub REST response shapes deploybot reads (unknown fields are ignored).

Names, titles, messages and URLs in them are outside text (``bot.core.thread.text.outside``):
cleaned as
they are parsed, before anything shows them."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, SecretStr

from bot.core.thread.text.outside import Line, Name, Text, Url

__all__ = [
    "CombinedStatus",
    "CommitStatus",
    "CompareCommit",
    "Comparison",
    "Deployment",
    "InstallationToken",
    "JobStep",
    "RunJob",
    "WorkflowRun",
]


class _Shape(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class WorkflowRun(_Shape):
    id: int
    display_title: Line = ""
    event: str = ""
    status: str | None = None  # queued, in_progress, completed, waiting, requested, pending
    conclusion: str | None = None  # success, failure, cancelled, timed_out, ...
    html_url: Url = ""
    created_at: datetime
    run_attempt: int = 1


class JobStep(_Shape):
    name: Name
    status: str
    conclusion: str | None = None
    number: int = 0


class RunJob(_Shape):
    id: int
    name: Name
    status: str
    conclusion: str | None = None
    html_url: Url | None = None
    steps: list[JobStep] = []


class Deployment(_Shape):
    id: int
    sha: str = ""
    ref: str = ""
    environment: str = ""
    payload: dict[str, str | int | float | bool | None] | str = {}


class _GitAuthor(_Shape):
    name: Name = ""
    email: str = ""
    date: datetime | None = None


class _GitCommit(_Shape):
    message: Text = ""
    author: _GitAuthor | None = None


class _User(_Shape):
    login: Name


class CompareCommit(_Shape):
    sha: str
    commit: _GitCommit
    author: _User | None = None  # the GitHub account, when GitHub could match one
    html_url: Url = ""

    @property
    def subject(self) -> str:
        return self.commit.message.split("\n", 1)[0]


class Comparison(_Shape):
    status: str  # ahead, behind, identical, diverged
    ahead_by: int = 0
    behind_by: int = 0
    total_commits: int = 0
    html_url: Url = ""
    commits: list[CompareCommit] = []


class CommitStatus(_Shape):
    context: Name
    state: str
    description: Line | None = None
    target_url: Url | None = None


class CombinedStatus(_Shape):
    state: str  # success, pending, failure
    total_count: int = 0
    statuses: list[CommitStatus] = []


class InstallationToken(_Shape):
    token: SecretStr
    expires_at: datetime
