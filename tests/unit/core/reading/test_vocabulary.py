"""One vocabulary for approve / reject / roll back (bot.core.reading.vocabulary), and the
three places that read it: the command grammar, an email reply with its token, and the Slack
slash command. Each keeps what it accepted before the lists were one; an unknown or
ambiguous word decides nothing."""

import pytest

from bot.core.reading.commands import ApproveCommand, RejectCommand, RollbackCommand
from bot.core.reading.grammar import parse_command
from bot.core.reading.vocabulary import decision_of, looks_like_decision, rollback_words
from channels.slack.payloads import SlashCommand, command_request


@pytest.mark.parametrize(
    ("word", "in_chat", "in_reply"),
    [
        ("approve", "approve", "approve"),
        ("APPROVE", "approve", "approve"),
        ("approved", "approve", "approve"),
        ("reject", "reject", "reject"),
        ("Deny", "reject", "reject"),
        # only an answer to one request (an email reply with its token) reads these
        ("rejected", None, "reject"),
        ("denied", None, "reject"),
        ("no", None, "reject"),
        # never a decision
        ("approves", None, None),
        ("approval", None, None),
        ("yes", None, None),
        ("lgtm", None, None),
        ("rejecting", None, None),
        ("nope", None, None),
        ("", None, None),
    ],
)
def test_a_word_decides_only_where_it_is_clear(
    word: str, in_chat: str | None, in_reply: str | None
) -> None:
    assert decision_of(word) == in_chat
    assert decision_of(word, reply=True) == in_reply


@pytest.mark.parametrize(
    ("line", "meant"),
    [
        ("approve", True),
        ("Approves, thanks", True),
        ("rejecting: tests are red", True),
        ("deny", True),
        ("denying it", True),
        ("no", False),  # a plain "no" in a longer thought is not refused as a bad decision
        ("what does this change?", False),
        ("", False),
    ],
)
def test_a_line_meant_as_a_decision_is_recognised(line: str, meant: bool) -> None:
    assert looks_like_decision(line) is meant


@pytest.mark.parametrize(
    ("keys", "skip"),
    [
        (["rollback", "backend"], 1),
        (["roll", "back", "backend"], 2),
        (["roll", "backend"], 0),
        (["rollbacks"], 0),
        ([], 0),
    ],
)
def test_rollback_is_one_or_two_words(keys: list[str], skip: int) -> None:
    assert rollback_words(keys) == skip


SERVICES, ENVIRONMENTS = ["backend"], ["production"]
ROLLBACK = RollbackCommand(service="backend", environment="production")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("approve", ApproveCommand()),
        ("approved", ApproveCommand()),
        ("approve #ab12", ApproveCommand(plan_id="ab12")),
        ("approved #ab12", None),  # as before: only "approve" names a plan
        ("reject not now", RejectCommand(reason="not now")),
        ("deny #ab12 flaky", RejectCommand(plan_id="ab12", reason="flaky")),
        ("rejected", None),  # the chat is not an answer to one request: the model reads it
        ("no", None),
        ("approves", None),
        ("roll back backend in production", ROLLBACK),
        ("rollback backend in production", ROLLBACK),
        ("roll backend in production", None),
    ],
)  # fmt: skip
def test_the_grammar_reads_the_vocabulary(text: str, expected: object) -> None:
    assert parse_command(text, services=SERVICES, environments=ENVIRONMENTS) == expected


@pytest.mark.parametrize(
    ("said", "text"),
    [
        ("approve", "approve"),
        ("approved", "approved"),
        ("deny flaky", "deny flaky"),
        ("reject", "reject"),
        ("roll back backend in production", "roll back backend in production"),
        ("rollback backend in production", "rollback backend in production"),
        ("backend to production", "deploy backend to production"),
        ("no", "deploy no"),  # as before: not a decision word here, so a deploy is meant
    ],
)
def test_the_slash_command_keeps_decision_and_rollback_words(said: str, text: str) -> None:
    body = {"user_id": "U1", "channel_id": "C1", "trigger_id": "t1", "text": said}
    request = command_request(body)
    assert isinstance(request, SlashCommand)
    assert request.text == text
