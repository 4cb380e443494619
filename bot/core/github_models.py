"""The few GitHub REST response shapes deploybot reads (unknown fields are ignored)."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, SecretStr

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
    display_title: str = ""
    event: str = ""
    status: str | None = None  # queued, in_progress, completed, waiting, requested, pending
    conclusion: str | None = None  # success, failure, cancelled, timed_out, ...
    html_url: str = ""
    created_at: datetime
    run_attempt: int = 1


class JobStep(_Shape):
    name: str
    status: str
    conclusion: str | None = None
    number: int = 0


class RunJob(_Shape):
    id: int
    name: str
    status: str
    conclusion: str | None = None
    html_url: str | None = None
    steps: list[JobStep] = []


class Deployment(_Shape):
    id: int
    sha: str = ""
    ref: str = ""
    environment: str = ""
    payload: dict[str, str | int | float | bool | None] | str = {}


class _GitAuthor(_Shape):
    name: str = ""
    email: str = ""
    date: datetime | None = None


class _GitCommit(_Shape):
    message: str = ""
    author: _GitAuthor | None = None


class _User(_Shape):
    login: str


class CompareCommit(_Shape):
    sha: str
    commit: _GitCommit
    author: _User | None = None  # the GitHub account, when GitHub could match one
    html_url: str = ""

    @property
    def subject(self) -> str:
        return self.commit.message.split("\n", 1)[0]


class Comparison(_Shape):
    status: str  # ahead, behind, identical, diverged
    ahead_by: int = 0
    behind_by: int = 0
    total_commits: int = 0
    html_url: str = ""
    commits: list[CompareCommit] = []


class CommitStatus(_Shape):
    context: str
    state: str
    description: str | None = None
    target_url: str | None = None


class CombinedStatus(_Shape):
    state: str  # success, pending, failure
    total_count: int = 0
    statuses: list[CommitStatus] = []


class InstallationToken(_Shape):
    token: SecretStr
    expires_at: datetime
