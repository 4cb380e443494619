"""The plan: exactly what a human approves, and the hash an approval is bound to."""

import functools
import hashlib
import json
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.core.thread.text.outside import Line, Name, Subject, Url

__all__ = [
    "CommitInfo",
    "DeployRecord",
    "Evidence",
    "Lineage",
    "Override",
    "Plan",
    "Quarantined",
    "Tag",
    "version_key",
]

_VERSION = re.compile(
    r"^v?(?P<major>\d+)(?:\.(?P<minor>\d+))?(?:\.(?P<patch>\d+))?"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$"
)

# One sort key shape for every tag: (is_version, numbers, is_release, pre-release, name).
_Ident = tuple[int, int, str]
_Key = tuple[int, tuple[int, int, int], int, tuple[_Ident, ...], str]


def version_key(name: str) -> _Key:
    """Sort key for a tag name; sort with ``reverse=True`` for newest first."""
    match = _VERSION.match(name)
    if match is None:
        return (0, (0, 0, 0), 0, (), name)
    numbers = (
        int(match["major"]),
        int(match["minor"] or 0),
        int(match["patch"] or 0),
    )
    pre = match["pre"]
    if pre is None:
        return (1, numbers, 1, (), name)
    # semver: numeric identifiers sort numerically and below alphanumeric ones.
    idents = tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in pre.split(".")
    )
    return (1, numbers, 0, idents, name)


_Fields = tuple[
    str,
    str,
    str,
    str,
    str,
    str | None,
    str | None,
    str,
    int,
    str | None,
    tuple[str, int | None] | None,
    tuple[tuple[str, str, str], ...],
    str | None,
]


@functools.lru_cache(maxsize=4096)
def _hash(fields: _Fields) -> str:
    """``Plan.plan_hash`` of a plan's fields (in the order of ``Plan.plan_hash``'s tuple)."""
    hashed: list[str | None] = list(fields[:8])  # kind ... requester, always hashed
    attempt, previous_sha, lineage, overrides, ahead = fields[8:]
    if attempt > 1:  # first attempts hash as before attempts existed
        hashed.append(str(attempt))
    if previous_sha is not None:  # plans without these hash as before
        hashed.append(f"previous_sha={previous_sha}")
    if lineage is not None:
        hashed.append(f"lineage={lineage[0]}:{lineage[1]}")
    for kind, person, reason in overrides:  # plans without overrides hash as before
        hashed.append(f"{kind}={person}:{reason}")
    if ahead is not None:
        hashed.append(f"ahead={ahead}")
    blob = json.dumps(hashed, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class Tag(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: Name
    sha: str
    subject: Subject | None = None


class DeployRecord(BaseModel):
    """One finished deploy of a service to an environment, as kept in the history."""

    model_config = ConfigDict(frozen=True)

    thread_id: str
    kind: Literal["deploy", "rollback"]
    version: Name
    sha: str
    requester: str
    approvers: list[str] = []
    # interrupted: the worker died before the result was known; nobody knows what it did.
    result: Literal["succeeded", "failed", "timed_out", "interrupted"]
    at: str  # ISO 8601, UTC
    idempotency_key: str | None = None  # thread id + plan hash (None: an older record)


class Lineage(BaseModel):
    """How a planned commit stands to the live one, read from git (or GitHub's compare):
    ``ahead``: it is built on the live commit; ``behind``: the live commit is built on it
    (deploying it goes backwards); ``diverged``: neither, ``missing`` commits of the live
    one are not in it; ``unknown``: it could not be read (``why``)."""

    model_config = ConfigDict(frozen=True)

    relation: Literal["same", "ahead", "behind", "diverged", "unknown"]
    missing: int | None = None  # commits of the live one the planned one lacks
    why: Line | None = None


class Override(BaseModel):
    """A release policy a named person set aside for this plan, with their reason: a soak
    (``skip soak <reason>``) or a freeze (``break glass <reason>``). Part of the plan, so of
    its hash: approvers approve the plan with the override, and the card shows it in full."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["skip_soak", "break_glass"]
    person: str
    reason: Line


def _no_overrides(value: object) -> bool:
    return value == ()


def _is_none(value: object) -> bool:
    return value is None


def _empty(value: object) -> bool:
    return value == []


class Plan(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["deploy", "rollback"]
    service: str
    environment: str
    version: Name
    sha: str
    subject: Subject | None = None  # outside text: cleaned whenever a plan is made or loaded
    previous_version: Name | None = None
    requester: str
    # The same plan asked again after a try that failed is a new attempt: its own hash, so
    # its own approval and idempotency key (each attempt runs at most once).
    attempt: int = 1
    # The live commit it was planned against, and how the planned one stands to it: what
    # the re-check compares and the approvers are shown (None in plans made before these).
    previous_sha: str | None = None
    lineage: Lineage | None = None
    # Release policy set aside by a named person (left out of stored plans when empty).
    overrides: tuple[Override, ...] = Field(default=(), exclude_if=_no_overrides)
    # Made against what the plans ahead of it in the pair's line (or the one running) leave,
    # not what is live now: ``previous_*`` is their version (the queue, issue 19.3).
    ahead: Literal["queued", "running"] | None = Field(default=None, exclude_if=_is_none)

    @property
    def plan_hash(self) -> str:
        """A hash of every field, in a fixed order. Not kept on the plan
        (``model_copy(update=...)`` would carry a stale value over to the changed plan): the
        hash of each field tuple is remembered instead (``_hash``), so a changed plan, whose
        tuple differs, is hashed afresh."""
        return _hash(self._fields(attempt=self.attempt))

    @property
    def identity(self) -> str:
        """What the plan is, whichever attempt: the hash of its first attempt."""
        return _hash(self._fields(attempt=1))

    def _fields(self, *, attempt: int) -> _Fields:
        lineage = self.lineage
        return (
            self.kind,
            self.service,
            self.environment,
            self.version,
            self.sha,
            self.subject,
            self.previous_version,
            self.requester,
            attempt,
            self.previous_sha,
            None if lineage is None else (lineage.relation, lineage.missing),
            tuple((o.kind, o.person, o.reason) for o in self.overrides),
            self.ahead,
        )

    @property
    def short_id(self) -> str:
        return self.plan_hash[:4]

    def not_built_on_live(self) -> str | None:
        """What an approver must see when the planned commit does not build on the live one
        (None when it does, or nothing is live)."""
        lineage, live = self.lineage, self.previous_version
        if lineage is None or live is None:
            return None
        match lineage.relation:
            case "diverged":
                n = lineage.missing
                count = "commits" if n is None else "1 commit" if n == 1 else f"{n} commits"
                verb = "is" if n == 1 else "are"
                return f"not built on what is live: {count} of {live} {verb} missing"
            case "unknown":
                return f"not checked that it is built on {live} ({lineage.why or 'no answer'})"
            case "same" | "ahead" | "behind":
                return None

    def describe(self) -> str:
        commit = self.sha[:7]
        if self.subject:
            commit += f', "{self.subject}"'
        warning = self.not_built_on_live()
        now = f"; {warning}" if warning else ""
        if self.ahead is not None and self.previous_version:
            after = "queued ahead" if self.ahead == "queued" else "deploying now"
            now = f" (after {self.previous_version}, {after}{now})"
        else:
            live = f" (now {self.previous_version}{now})"
            now = live if self.previous_version else " (first deploy)"
        verb = "roll back" if self.kind == "rollback" else ""
        head = f"{verb} " if verb else ""
        return f"{head}{self.service} {self.version} ({commit}) -> {self.environment}{now}"


class CommitInfo(BaseModel):
    """One commit in the range a plan would deploy."""

    model_config = ConfigDict(frozen=True)

    sha: Name
    subject: Subject
    author: Name


class Evidence(BaseModel):
    """What an approver should see beside the plan, built from data (git, the GitHub API),
    never from model text: what is live, who asked, the commits between the live version and
    the planned one, and the planned commit's CI status when the repository is on GitHub.

    Not part of the plan's hash: it describes the plan, it is not what is approved."""

    model_config = ConfigDict(frozen=True)

    live_version: Name | None
    requester: Line
    commits_total: int | None = None  # None: could not be counted (see note)
    commits: list[CommitInfo] = []  # the newest few
    compare_url: Url | None = None
    ci_state: Literal["success", "failure", "pending", "error", "unknown"] | None = None
    ci_url: Url | None = None
    note: Line | None = None  # why something above is missing
    # Where the version stands in the environments it must pass first (release policy).
    release: list[Line] = Field(default_factory=list, exclude_if=_empty)


class Quarantined(BaseModel):
    """A commit that failed verification or was rolled back, for one service and
    environment: nobody (no person, schedule or webhook) deploys it there again, under any
    tag, until someone allowed to releases it (``bot.core.policy.quarantine``); a plan for it
    is refused with ``bot.core.thread.refusals.CommitQuarantined``."""

    model_config = ConfigDict(frozen=True)

    version: str  # the tag it was deployed as
    sha: str | None = None  # the commit; None in entries stored before commits were recorded
    by: str  # "verification", or who rolled it back
    reason: Line
    at: str  # ISO 8601, UTC
