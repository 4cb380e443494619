"""A deploy's announcement in words (pure): what an environment's ``announce`` route reads
about one deploy or rollback, from its start to how it ended.

One text per moment (``Moment``), always whole: on Slack each one replaces the deploy's
first announcement in place, by email each is a new mail in the same thread, so every text
stands alone. First the state, with its time in UTC and how long it took; then who asked
and who approved; then the evidence card's facts (the commits since the live version, CI
on the commit); then the run's link when there is one. Outside text (commit subjects,
authors, a link) goes through ``bot.core.wording.evidence`` as the approval card's does.
Which moment is announced, where, and which message it replaces is decided in
``bot.core.release.announcements``.
"""

from datetime import datetime
from typing import Literal, assert_never

from pydantic import BaseModel, ConfigDict

from bot.core.thread.plan import Evidence, Plan
from bot.core.wording.evidence import evidence_commits, evidence_range, evidence_url
from bot.core.wording.verification import duration_text

__all__ = ["AnnouncedFacts", "Moment", "announcement_text"]

Moment = Literal[
    "started",
    "succeeded",
    "failed",
    "timed_out",
    "interrupted",
    "verified",
    "verification_failed",
    "rolled_back",
]

_COMMITS_SHOWN = 5


class AnnouncedFacts(BaseModel):
    """What is known about one deploy when it is announced, read from its thread.

    ``at``: when the moment happened; ``duration_s``: how long the command ran (None before
    it ended, or when nobody knows); ``verifying``: (checks, seconds) of a verification
    that follows a success; ``summary``: a verification's verdict as the thread said it;
    ``rolled_back_to``: the version the bot's rollback went back to."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    approvers: list[str] = []
    evidence: Evidence | None = None
    duration_s: float | None = None
    exit_code: int | None = None
    link: str | None = None
    verifying: tuple[int, float] | None = None
    summary: str | None = None
    rolled_back_to: str | None = None


def _took(seconds: float) -> str:
    return duration_text(round(seconds, 1) if seconds < 10 else round(seconds))


def _checks(count: int) -> str:
    return "1 check" if count == 1 else f"{count} checks"


def _phrases(plan: Plan) -> tuple[str, str, str]:
    """How the deploy is named while running, once done, and as a noun."""
    commit = plan.sha[:7]
    if plan.kind == "rollback":
        what = f"{plan.service} in {plan.environment} to {plan.version} ({commit})"
        return f"Rolling back {what}", f"Rolled back {what}", f"Rollback of {what}"
    what = f"{plan.service} {plan.version} ({commit})"
    return (
        f"Deploying {what} to {plan.environment}",
        f"Deployed {what} to {plan.environment}",
        f"Deploy of {what} to {plan.environment}",
    )


def _headline(plan: Plan, moment: Moment, facts: AnnouncedFacts) -> str:
    doing, done, noun = _phrases(plan)
    at = f"{facts.at:%H:%M} UTC"
    took = f", after {_took(facts.duration_s)}" if facts.duration_s is not None else ""
    env = plan.environment
    match moment:
        case "started":
            since = f", from {plan.previous_version}" if plan.previous_version else ""
            return f"{doing}{since}: started {at}."
        case "succeeded":
            line = f"{done}: finished {at}{took}."
            if facts.verifying is not None:
                checks, verify_s = facts.verifying
                line += f" Verifying with {_checks(checks)} for {duration_text(verify_s)}."
            return line
        case "failed":
            code = f" (exit {facts.exit_code})" if facts.exit_code is not None else ""
            line = f"{noun} FAILED at {at}{took}{code}."
            if plan.kind == "deploy" and plan.previous_version:
                line += (
                    f" {env} may be broken; {plan.previous_version} was live before "
                    f"('rollback {plan.service} in {env}' goes back to it)."
                )
            return line
        case "timed_out":
            return f"{noun} TIMED OUT and was stopped at {at}{took}; check {env}."
        case "interrupted":
            return f"{noun}: outcome unknown at {at}. It is not run again on its own; check {env}."
        case "verified":
            d = facts.duration_s
            ran = f"; the deploy took {_took(d)}" if d is not None else ""
            return f"{done} and verified at {at}{ran}."
        case "verification_failed":
            return (
                f"{done}, but its verification FAILED at {at}: {plan.service} {plan.version} "
                f"is quarantined in {env}."
            )
        case "rolled_back":
            back = f" to {facts.rolled_back_to}" if facts.rolled_back_to else ""
            return f"{done}; its verification failed and it was rolled back{back} at {at}."
        case _:
            assert_never(moment)


def _evidence_lines(plan: Plan, evidence: Evidence) -> list[str]:
    lines: list[str] = []
    heading = evidence_range(plan, evidence)
    commits, more = evidence_commits(evidence)
    shown = commits[:_COMMITS_SHOWN]
    more += len(commits) - len(shown)
    if heading is not None:
        lines.append(f"{heading}{':' if shown else '.'}")
    lines.extend(f"  {sha} {subject} ({author})" for sha, subject, author in shown)
    if more:
        lines.append(f"  ... and {more} more")
    if compare := evidence_url(evidence.compare_url):
        lines.append(f"Compare: {compare}")
    if evidence.ci_state is not None:
        state = "no status reported" if evidence.ci_state == "unknown" else evidence.ci_state
        ci = f"CI on {plan.sha[:7]}: {state}"
        link = evidence_url(evidence.ci_url)
        lines.append(f"{ci} {link}" if link else ci)
    return lines


def announcement_text(plan: Plan, *, moment: Moment, facts: AnnouncedFacts) -> str:
    """The whole announcement of ``plan``'s deploy at ``moment``."""
    lines = [_headline(plan, moment, facts)]
    if moment == "verification_failed" and facts.summary:
        lines.append(facts.summary.strip().splitlines()[0])
    asked = f"Asked by {plan.requester}"
    if facts.approvers:
        asked += f"; approved by {', '.join(facts.approvers)}"
    lines.append(f"{asked}.")
    if facts.evidence is not None:
        lines.extend(_evidence_lines(plan, facts.evidence))
    if link := evidence_url(facts.link):
        lines.append(f"Run: {link}")
    return "\n".join(lines)
