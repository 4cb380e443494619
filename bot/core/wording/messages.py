"""What the bot says: plain-text messages built from plans, results and threads (pure).

The evidence shown beside an approval request (commits, CI, links) is worded in
``bot.core.wording.evidence``.
"""

from datetime import datetime

from bot.core.config.config import Config
from bot.core.thread.events import (
    CronFired,
    DeployFinished,
    IntentChosen,
    PlanProposed,
    UserMessage,
    WebhookReceived,
)
from bot.core.thread.plan import DeployRecord, Evidence, Plan
from bot.core.thread.thread import Thread
from bot.core.wording.evidence import evidence_lines
from bot.core.wording.promotion import override_lines

__all__ = [
    "approval_progress_text",
    "approval_request_text",
    "deploys_text",
    "held_text",
    "help_text",
    "interrupted_text",
    "locked_text",
    "out_of_tries_text",
    "progress_text",
    "quiet_text",
    "rejected_text",
    "result_text",
    "started_text",
    "status_text",
    "unknown_text",
    "where_text",
]


def _minutes(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h"


def approval_request_text(
    plan: Plan,
    *,
    approvers: list[str],
    min_approvals: int,
    timeout_s: float,
    name_the_plan: bool = False,
    evidence: Evidence | None = None,
) -> str:
    """``name_the_plan``: the thread asked approval for another plan before, so a bare
    'approve' would not count (``bot.core.policy.approval.check_bare_approval``): ask for the
    plan's id.
    ``evidence``: what an approver should see beside the plan (bot/shell/world/evidence.py)."""
    excluded = f" (not {plan.requester})" if plan.requester not in approvers else ""
    noun = "approval" if min_approvals == 1 else "approvals"
    approve = f"approve {plan.short_id}" if name_the_plan else "approve"
    facts = "".join(f"{line}\n" for line in evidence_lines(plan, evidence)) if evidence else ""
    facts += "".join(f"{line}\n" for line in override_lines(plan))
    return (
        f"Plan #{plan.short_id}: {plan.describe()}.\n"
        f"{facts}"
        f"{plan.environment} needs {min_approvals} {noun} from: {', '.join(approvers)}"
        f"{excluded}. Expires in {_minutes(timeout_s)}.\n"
        f"Reply '{approve}' or 'reject <reason>'."
    )


def approval_progress_text(
    plan: Plan, *, approved_by: list[str], needed: int, waiting_on: list[str]
) -> str:
    return (
        f"Approved by {', '.join(approved_by)} ({len(approved_by)} of {needed}). "
        f"Plan #{plan.short_id} still needs {needed - len(approved_by)} more from: "
        f"{', '.join(waiting_on)}."
    )


def started_text(plan: Plan, *, approved_by: list[str], at: datetime) -> str:
    verb = "Rolling back" if plan.kind == "rollback" else "Deploying"
    doing = f"{verb} {plan.service} {plan.version} to {plan.environment} ..."
    if approved_by:
        return (
            f"Plan #{plan.short_id} approved by {', '.join(approved_by)} ({at:%H:%M} UTC). {doing}"
        )
    return doing


def progress_text(plan: Plan, *, elapsed_s: float, last_line: str | None) -> str:
    verb = "Rolling back" if plan.kind == "rollback" else "Deploying"
    line = f' Last output: "{last_line}"' if last_line else ""
    return (
        f"{verb} {plan.service} {plan.version} to {plan.environment} ... {elapsed_s:.0f} s.{line}"
    )


def quiet_text(plan: Plan, *, until: datetime) -> str:
    """Redis lost data (or a lock was removed): no lock is granted before ``until``
    (bot/shell/lock/dataloss.py, bot/shell/lock/scripts.py)."""
    return (
        f"Redis lost data (or a lock was removed by hand), so no deploy of {plan.service} in "
        f"{plan.environment} starts before {until:%H:%M:%S} UTC: a deploy from before may "
        f"still hold it until then. Plan #{plan.short_id} did not run; ask again then."
    )


def locked_text(environment: str, *, who: str, why: str, since: datetime) -> str:
    reason = f": {why}" if why else ""
    return f"{environment} is locked by {who} since {since:%H:%M} UTC{reason}."


def where_text(service: str, *, rows: list[tuple[str, str | None, bool, str | None]]) -> str:
    """``rows``: (environment, live version, needs approval, lock description or None)."""
    lines = [f"Where {service} can go:"]
    for environment, live, approval, lock in rows:
        parts = [f"now {live}" if live else "never deployed"]
        parts.append("needs approval" if approval else "no approval needed")
        if lock:
            parts.append(lock)
        lines.append(f"  {environment}: {', '.join(parts)}")
    return "\n".join(lines)


def rejected_text(plan: Plan, *, person: str, reason: str | None) -> str:
    why = f": {reason}" if reason else ""
    return f"Plan #{plan.short_id} rejected by {person}{why}. Nothing was deployed."


def result_text(plan: Plan, finished: DeployFinished) -> str:
    verb = "Rolling back" if plan.kind == "rollback" else "Deploying"
    head = f"{verb} {plan.service} {plan.version} to {plan.environment} ..."
    lines = [line for line in finished.output_tail.splitlines() if line.strip()]
    tail = f' Last output: "{lines[-1].strip()}".' if lines else ""
    if finished.link:
        tail = f" Run: {finished.link}.{tail}"
    match finished.result:
        case "succeeded":
            return f"{head} ok in {finished.duration_s:.1f} s.{tail}"
        case "failed":
            hint = ""
            if plan.previous_version and plan.kind == "deploy":
                hint = (
                    f"\n{plan.environment} may be broken. To go back to "
                    f"{plan.previous_version}: rollback {plan.service} in {plan.environment}"
                )
            return (
                f"{head} FAILED (exit {finished.exit_code}) after {finished.duration_s:.1f} s."
                f"{tail}{hint}"
            )
        case "timed_out":
            return (
                f"{head} TIMED OUT after {finished.duration_s:.0f} s and was stopped; "
                f"check {plan.environment}.{tail}"
            )


def interrupted_text(plan: Plan | None, plan_hash: str) -> str:
    what = plan.describe() if plan else f"plan #{plan_hash[:4]}"
    return (
        f"Outcome unknown: the deploy ({what}) started, but the worker running it stopped "
        "before it reported a result. I will not run it again on my own. Please check the "
        "environment, then ask for a new deploy if needed."
    )


def unknown_text(plan: Plan, reason: str) -> str:
    """A deploy that may still be running out of sight (a GitHub run whose end GitHub has not
    reported): what is known, and that it is not run again."""
    return (
        f"Outcome unknown: {plan.describe()} may still be running where I can neither see "
        f"nor stop it. I will not run it again on my own.\n{reason}"
    )


def held_text(plan: Plan, *, held: bool) -> str:
    """After an unknown outcome: who frees the pair (or that another deploy holds it)."""
    env = plan.environment
    if held:
        return (
            f"{env} stays held for {plan.service} until an approver of {env} has checked it "
            f"and says 'unlock {env}'."
        )
    return f"Another deploy of {plan.service} holds {env} now: check {env} before it ends."


def out_of_tries_text(thread: Thread, *, config: Config) -> str:
    """Said when the model could not settle on a step within a message's budget: what was
    asked, that nothing happened, and the exact commands that would do it."""
    asked = ""
    for event in reversed(thread.events):
        match event:
            case (
                UserMessage(text=said)
                | CronFired(instruction=said)
                | WebhookReceived(instruction=said)
            ):
                asked = said.lower()
                break
            case _:
                continue
    mentioned = [s for s in sorted(config.services) if s in asked] or sorted(config.services)[:1]
    service = mentioned[0] if mentioned else "SERVICE"
    svc = config.services.get(service)
    env = svc.environments[0] if svc else "ENVIRONMENT"
    return (
        "I couldn't work out what to do with that, so I stopped; nothing was deployed. "
        f"An exact command does it without guessing, for example 'deploy {service} to {env}' "
        f"(the newest tag), 'deploy {service} VERSION to {env}', 'where can I deploy "
        f"{service}' or 'deploys {service} in {env}'. Type 'help' for the full list."
    )


def help_text(config: Config) -> str:
    services = ", ".join(sorted(config.services))
    envs = ", ".join(sorted(config.environments))
    return (
        "I understand these commands:\n"
        "  deploy <service> [version] to <environment>   (no version: the newest tag)\n"
        "  deploy ... when ready   (waits in the queue until the soak allows it)\n"
        "  deploy ... skip soak <reason> | deploy ... break glass <reason>"
        "   (skip the soak or deploy in a freeze; only people the config names)\n"
        "  cancel [plan id]   (leave the queue)\n"
        "  rollback <service> in <environment> [to <version>]\n"
        "  approve [plan id] | reject <reason>\n"
        "  deploys <service> in <environment>   (recent deploys)\n"
        "  where can I deploy <service>\n"
        "  lock <environment> <reason> | unlock <environment>\n"
        "  release <service> <version> in <environment> <reason>   (lift a quarantine)\n"
        "  status | help\n"
        f"Services: {services}. Environments: {envs}."
    )


def status_text(thread: Thread) -> str:
    status = thread.status.replace("_", " ")
    plan: Plan | None = None
    last_intent = None
    for event in thread.events:
        if isinstance(event, PlanProposed):
            plan = event.plan
        elif isinstance(event, IntentChosen):
            last_intent = event.intent.intent
    parts = [f"Thread {thread.id}: {status}."]
    if plan:
        parts.append(f"Plan #{plan.short_id}: {plan.describe()}.")
    open_approval = thread.open_approval()
    if open_approval:
        got = ", ".join(open_approval.approved_by) or "nobody yet"
        parts.append(f"Approved by {got}; expires {open_approval.request.expires_at:%H:%M} UTC.")
    elif plan is None and last_intent:
        parts.append(f"Last step: {last_intent}.")
    elif plan is None:
        return "Nothing is in progress in this thread. Type 'help' to see what I can do."
    return " ".join(parts)


def deploys_text(service: str, environment: str, deploys: list[DeployRecord]) -> str:
    if not deploys:
        return f"No deploys of {service} to {environment} yet."
    lines = [f"Recent deploys of {service} to {environment}:"]
    for record in deploys[:10]:
        approved = f", approved by {', '.join(record.approvers)}" if record.approvers else ""
        verb = " (rollback)" if record.kind == "rollback" else ""
        lines.append(
            f"  {record.version}{verb} {record.result}, asked by {record.requester}"
            f"{approved}, {record.at[:16].replace('T', ' ')} UTC"
        )
    return "\n".join(lines)
