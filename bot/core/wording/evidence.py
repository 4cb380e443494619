"""The evidence beside an approval request, in words (pure): the commit range, the commits
(short sha, subject, author), the compare and CI links, and ``outside_text``, which makes
any text from outside (a commit subject, an author) one short, redacted line.

``evidence_lines`` is the plain-text form (terminal, email, every text channel); the Slack
card (channels/slack/blocks.py) builds its blocks from the same pieces.
"""

import functools
from string import hexdigits

from bot.core.thread.plan import Evidence, Plan
from bot.core.thread.text.outside import clean
from bot.core.wording.redact import redact

__all__ = [
    "evidence_commits",
    "evidence_lines",
    "evidence_range",
    "evidence_url",
    "outside_text",
]

_SUBJECT_MAX = 72
_AUTHOR_MAX = 40


_MEMO_CHARS = 512  # texts up to this long are remembered (a bounded memo: 4096 entries)


def outside_text(text: str, *, max_chars: int) -> str:
    """Text from outside (a commit subject, an author) as one short, redacted line: cleaned
    (``bot.core.thread.text.outside``: no escape sequences, control, bidi or zero-width characters,
    no
    line breaks), credential shapes masked before it is cut.

    Pure, and asked for the same subjects and authors on every turn of a thread that shows
    its evidence: short texts' answers are kept, least recently used dropped first."""
    if len(text) <= _MEMO_CHARS:
        return _remembered(text, max_chars)
    return _outside_text(text, max_chars)


@functools.lru_cache(maxsize=4096)
def _remembered(text: str, max_chars: int) -> str:
    return _outside_text(text, max_chars)


def _outside_text(text: str, max_chars: int) -> str:
    line = redact(clean(text, kind="text").replace("\n", " "), secrets=())
    line = " ".join(line.split())
    return line if len(line) <= max_chars else line[: max_chars - 1] + "…"


def evidence_url(url: str | None) -> str | None:
    """A link worth showing: http(s) only, no spaces or brackets that could break out."""
    if url is None or not url.startswith(("https://", "http://")):
        return None
    return None if any(ch.isspace() or ch in '<>|"' for ch in url) else url


def _count(n: int) -> str:
    return "no commits" if n == 0 else "1 commit" if n == 1 else f"{n} commits"


def evidence_range(plan: Plan, evidence: Evidence) -> str | None:
    """What the commit range is, in words; None when nothing is known about it."""
    total, live = evidence.commits_total, evidence.live_version
    if total is None and not evidence.commits:
        return None
    count = _count(total) if total is not None else "commits (not all counted)"
    if live is None:
        return f"First deploy: {count} up to {plan.version}"
    if plan.kind == "rollback":
        return f"Rolling back removes {count} (in {live}, not in {plan.version})"
    return f"{count.capitalize()} from {live} to {plan.version}"


def evidence_commits(evidence: Evidence) -> tuple[list[tuple[str, str, str]], int]:
    """The commits shown, as (short sha, subject, author), cleaned; and how many more."""
    shown = [
        (
            "".join(ch for ch in c.sha[:7] if ch in hexdigits),
            outside_text(c.subject, max_chars=_SUBJECT_MAX) or "(no subject)",
            outside_text(c.author, max_chars=_AUTHOR_MAX) or "unknown",
        )
        for c in evidence.commits
    ]
    total = evidence.commits_total
    return shown, max(0, total - len(shown)) if total is not None else 0


def _ci(plan: Plan, evidence: Evidence) -> str | None:
    match evidence.ci_state:
        case None:
            return None
        case "unknown":
            return f"CI on {plan.sha[:7]}: no status reported"
        case state:
            return f"CI on {plan.sha[:7]}: {state}"


def evidence_lines(plan: Plan, evidence: Evidence) -> list[str]:
    """The evidence as plain-text lines (the terminal, email and every text channel)."""
    live = evidence.live_version or "nothing (first deploy)"
    lines = [f"Asked by {outside_text(evidence.requester, max_chars=64)}; live now: {live}."]
    heading = evidence_range(plan, evidence)
    commits, more = evidence_commits(evidence)
    if heading is not None:
        lines.append(f"{heading}{', newest first:' if commits else '.'}")
    lines.extend(f"  {sha} {subject} ({author})" for sha, subject, author in commits)
    if more:
        lines.append(f"  ... and {more} more")
    if compare := evidence_url(evidence.compare_url):
        lines.append(f"Compare: {compare}")
    if ci := _ci(plan, evidence):
        link = evidence_url(evidence.ci_url)
        lines.append(f"{ci} {link}" if link else ci)
    if evidence.note:
        lines.append(f"Note: {outside_text(evidence.note, max_chars=300)}")
    lines.extend(f"Release: {note}." for note in evidence.release)
    return lines
