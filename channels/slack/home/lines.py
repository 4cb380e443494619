"""The App Home's lines (pure): a board's facts in Slack mrkdwn, one environment, one service
in one environment (a section field), one request of the viewer's own.

Outside text (versions, reasons, a lock's why) is escaped as on the approval card
(``blocks.escape``, ``code``, ``bold``); people are mentions where their Slack id is known,
else their escaped names; times are "HH:MM UTC", with the day when it is not the board's.
"""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from bot.core.ports.board import EnvironmentBoard, PairBoard, Waiting
from bot.core.thread.plan import DeployRecord
from channels.slack.blocks import bold, clip, code, escape, plan_title

__all__ = ["environment_line", "mine_line", "pair_field", "when", "who"]

_FIELD_MAX = 2000
_SHOWN_PER_LIST = 3  # quarantined versions, queued plans: the newest few, then "+N more"


def when(moment: datetime, now: datetime) -> str:
    """``09:05 UTC`` on ``now``'s day, ``2 Nov 09:05 UTC`` on another."""
    moment = moment.astimezone(UTC)
    if moment.date() == now.astimezone(UTC).date():
        return f"{moment:%H:%M} UTC"
    return f"{moment.day} {moment:%b %H:%M} UTC"


def who(name: str, slack_ids: Mapping[str, str]) -> str:
    """A person as a mention where their Slack id is known, else their name."""
    ident = slack_ids.get(name)
    return f"<@{ident}>" if ident else escape(name)


def mine_line(waiting: Waiting, *, now: datetime, slack_ids: Mapping[str, str]) -> str:
    """A request of the viewer's own: whom it waits for, until when."""
    approval = waiting.approval
    plan = approval.plan
    names = ", ".join(who(p, slack_ids) for p in approval.waiting_on()) or "nobody left"
    return (
        f"• {escape(plan_title(plan))} (plan #{plan.short_id}): waiting for {names}; "
        f"expires {when(approval.request.expires_at, now)}"
    )


def environment_line(env: EnvironmentBoard, *, now: datetime, slack_ids: Mapping[str, str]) -> str:
    """An environment: a person's lock on it and the freezes in force, or "open"."""
    parts = []
    if (lock := env.locked) is not None:
        why = f" ({escape(lock.why)})" if lock.why else ""
        parts.append(
            f":lock: locked by {who(lock.who, slack_ids)}{why} since {when(lock.since, now)}"
        )
    for freeze in env.freezes:
        until = f" until {when(freeze.until, now)}" if freeze.until else ""
        why = f": {escape(freeze.reason)}" if freeze.reason else ""
        parts.append(f":snowflake: frozen ({escape(freeze.name)}{why}){until}")
    return f"• {bold(env.name)}: " + ("; ".join(parts) if parts else "open")


def _deployed(record: DeployRecord, *, now: datetime, slack_ids: Mapping[str, str]) -> str:
    at = when(datetime.fromisoformat(record.at), now)
    approved = ", ".join(who(p, slack_ids) for p in record.approvers)
    by = who(record.requester, slack_ids) + (f", approved by {approved}" if approved else "")
    rolled = " (rollback)" if record.kind == "rollback" else ""
    return f"{code(record.version)}{rolled} since {at}, by {by}"


def _more(shown: Sequence[str], total: int) -> str:
    rest = total - len(shown)
    return ", ".join(shown) + (f" (+{rest} more)" if rest > 0 else "")


def pair_field(pair: PairBoard, *, now: datetime, slack_ids: Mapping[str, str]) -> str:
    """A service in one environment: live, a failed newest deploy, the deploy holding it,
    quarantined versions, requests waiting, the queue and soak (what there is of them)."""
    lines = [bold(pair.environment)]
    lines.append(
        _deployed(pair.live, now=now, slack_ids=slack_ids) if pair.live else "nothing live yet"
    )
    if (latest := pair.latest) is not None:
        at = when(datetime.fromisoformat(latest.at), now)
        outcome = latest.result.replace("_", " ")
        lines.append(f":warning: {latest.kind} of {code(latest.version)} {outcome} at {at}")
    if (held := pair.deploying) is not None:
        mark = ":double_vertical_bar: held:" if held.interrupted else ":arrows_counterclockwise:"
        since = when(held.since, now)
        lines.append(f"{mark} {escape(held.why)} for {who(held.who, slack_ids)} since {since}")
    if pair.quarantined:
        shown = [code(q.version) for q in pair.quarantined[:_SHOWN_PER_LIST]]
        lines.append(f":no_entry_sign: quarantined: {_more(shown, len(pair.quarantined))}")
    if pair.waiting:
        lines.append(f":hourglass_flowing_sand: {len(pair.waiting)} waiting for approval")
    if pair.queue:
        shown = [
            f"{code(q.version)} ({who(q.requester, slack_ids)})"
            for q in pair.queue[:_SHOWN_PER_LIST]
        ]
        lines.append(f":busstop: queued: {_more(shown, len(pair.queue))}")
    if (soak := pair.soak) is not None:
        if soak.note:
            state = escape(soak.note)
        elif soak.done_at is not None and soak.done_at <= now:
            state = f"soaked ({when(soak.done_at, now)})"
        elif soak.done_at is not None:
            state = f"soaking until {when(soak.done_at, now)}"
        elif soak.since is not None:
            state = f"soaking since {when(soak.since, now)}"
        else:
            state = "not counting"
        lines.append(f":seedling: soak of {code(soak.version)}: {state}")
    return clip("\n".join(lines), _FIELD_MAX)
