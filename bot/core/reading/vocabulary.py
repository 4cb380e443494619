"""The words that approve, reject or roll back: one list for every place that reads them. Pure.

The command grammar (``bot.core.reading.grammar``), an email reply to an approval request
(``channels.email.triage``) and the Slack slash command (``channels.slack.payloads``) read a
person's decision with these words, and a card tells people to reply with ``APPROVE`` and
``REJECT``. Words are compared lower-cased.

Two strengths, because a wrong reading is worse than none:

- ``APPROVE_WORDS`` and ``REJECT_WORDS`` are decisions anywhere (a chat line, a command).
- ``REJECT_REPLY_WORDS`` adds the past tense and a bare "no", read as a rejection only where
  the text can answer nothing but one request (an email reply carrying its signed token).

Anything else is no decision (``decision_of`` says ``None``): the caller defers or refuses
clearly, never guesses. ``looks_like_decision`` finds a line meant as one that did not say it
right (``approves``, ``rejecting``), so it can be refused with the words to use.
"""

from typing import Final, Literal

__all__ = [
    "APPROVE",
    "APPROVE_WORDS",
    "DECISION_STEMS",
    "REJECT",
    "REJECT_REPLY_WORDS",
    "REJECT_WORDS",
    "ROLLBACK_WORDS",
    "Decision",
    "decision_of",
    "looks_like_decision",
    "rollback_words",
]

Decision = Literal["approve", "reject"]

APPROVE: Final = "approve"  # the word a card asks for
REJECT: Final = "reject"  # ... followed by a reason
APPROVE_WORDS: Final = frozenset({APPROVE, "approved"})
REJECT_WORDS: Final = frozenset({REJECT, "deny"})
REJECT_REPLY_WORDS: Final = REJECT_WORDS | {"rejected", "denied", "no"}
# A command to roll back starts with one of these word sequences.
ROLLBACK_WORDS: Final = (("rollback",), ("roll", "back"))
# A line that starts so was meant as a decision (even when misspelt: ``approves``).
DECISION_STEMS: Final = (APPROVE, REJECT, "deny")


def decision_of(word: str, *, reply: bool = False) -> Decision | None:
    """The decision one word states; ``reply``: the text answers one request only."""
    key = word.lower()
    if key in APPROVE_WORDS:
        return "approve"
    if key in (REJECT_REPLY_WORDS if reply else REJECT_WORDS):
        return "reject"
    return None


def looks_like_decision(line: str) -> bool:
    """``line`` starts with a word meant as a decision, said right or not."""
    words = line.split(maxsplit=1)
    return bool(words) and words[0].lower().startswith(DECISION_STEMS)


def rollback_words(keys: list[str]) -> int:
    """How many leading words of ``keys`` (lower-cased) say "roll back": 0 when none."""
    for phrase in ROLLBACK_WORDS:
        if tuple(keys[: len(phrase)]) == phrase:
            return len(phrase)
    return 0
