"""Outside text stays data in every writer (issue 15.2), for any text at all.

Hypothesis feeds arbitrary strings (escape sequences, bidi, zero-width, C1, surrogates,
Slack and HTML syntax, huge lengths) through ``clean`` and through every writer
(tests/unit/outside_channels.py): typed, as the bot gathers text, and raw, straight into the
writers. Nothing a reader would act on survives anywhere; Slack's mrkdwn has no ``<``, ``>``
or ``&`` of the input unescaped; HTML has no ``<`` of the input; JSON logs and API answers
are ASCII; a Subject is one line; every kind stays within its cap.
"""

import json
import re
import unicodedata
from collections.abc import Iterator

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.thread.text.outside import CAPS, Kind, clean
from tests.unit.outside_channels import Rendered, around_types, through_types

HOSTILE = [
    "\x1b[2K", "\x1b[1G", "\x1b[8m", "\x1b[1A", "\x1b7", "\x1b8", "\x1bc", "\x1b]0;title\x07",
    "\x1b]8;;https://evil.example\x1b\\", "\x1bP+q\x1b\\", "\x9b2K", "\x9d0;t\x9c", "\x90",
    "\u202e", "\u202d", "\u2066", "\u2069", "\u200e", "\u061c", "\u200b", "\u200d", "\u2060",
    "\ufeff", "\u00ad", "\U000e0041", "\u3164", "\ud800", "\udfff", "\r", "\n", "\t", "\x00",
    "\x7f", "\x85", "\u2028", "\u2029", "e" + "\u0301" * 9, "<!channel>", "<!here>", "<@U0ALICE>",
    "<https://evil.example|click>", "&lt;", "&", "<", ">", "*", "`", "_", "~", "<script>",
    "Plan #abcd: backend v1.0.1 (1234567) -> production (now v1.4.1).", "bot> ", " ",
]  # fmt: skip
ANY_CHAR = st.one_of(
    st.characters(exclude_categories=()),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, exclude_categories=()),
    st.characters(max_codepoint=0xFF, exclude_categories=()),
)
PIECE = st.one_of(st.sampled_from(HOSTILE), st.text(ANY_CHAR, max_size=12))
TEXT = st.lists(PIECE, max_size=24).map("".join)
HUGE = st.tuples(TEXT, st.integers(1, 600)).map(lambda pair: pair[0] * pair[1])
ANY_TEXT = st.one_of(TEXT, TEXT, TEXT, HUGE)

# Our own Slack constructs: mentions of configured people, dates, links whose target and
# label the card writes (URLs pass bot.core.wording.evidence.evidence_url).
OWN_SLACK = re.compile(
    r"<@U0BOB>"
    r"|<!date\^\d+\^\{date_short_pretty\} at \{time\}\|[^<>]*>"
    r"|<https://[^\s<>|\"]+\|[A-Za-z ]+>"
)
OWN_HTML = re.compile(r"</?(?:html|body|p)>|<br>")
ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")
PLAN_LINE = re.compile(
    r'bot> Plan #[0-9a-f]{4}: backend v1\.4\.2 \(4f2c9a1(, "[^\n]{1,200}")?\) -> production '
    r"\(now v1\.4\.1\)\."
)


def acted_on(text: str, *, lines: bool = True) -> list[str]:
    """Characters a terminal, Slack or a mail reader would act on rather than show."""
    allowed = "\n" if lines else ""
    return [
        ch
        for ch in text
        if ch not in allowed
        and (
            unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp")
            or ch in "\u115f\u1160\u3164\uffa0\u2800"
        )
    ]


def texts(node: object, kind: str) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") == kind and isinstance(node.get("text"), str):
            yield node["text"]
        for value in node.values():
            yield from texts(value, kind)
    elif isinstance(node, list):
        for value in node:
            yield from texts(value, kind)


def check(out: Rendered) -> None:
    for name in ("terminal", "slack_text", "email_text", "email_html", "prompt"):
        value = getattr(out, name)
        assert acted_on(value) == [], (name, acted_on(value)[:5])
    assert acted_on(out.email_subject, lines=False) == []
    assert "\n" not in out.email_subject
    assert "\r" not in out.email_subject
    for ascii_only in (out.log_json, out.api_json.decode("ascii")):
        assert ascii_only.isascii()
        assert ascii_only.isprintable()
        json.loads(ascii_only)
    assert acted_on(out.log_plain.replace("\t", " ")) == []
    # Slack: the blocks go out as UTF-8 JSON; mrkdwn has only our own <...> and entities.
    json.dumps(out.slack_blocks, ensure_ascii=False).encode()
    for kind in ("mrkdwn", "plain_text"):
        for text in texts(out.slack_blocks, kind):
            assert acted_on(text) == []
            assert len(text) <= 3000
    for text in [*texts(out.slack_blocks, "mrkdwn"), out.slack_text]:
        rest = OWN_SLACK.sub("", text)
        assert "<" not in rest, rest
        assert ">" not in rest, rest
        assert not ENTITY.search(rest), rest
    html = OWN_HTML.sub("", out.email_html)
    assert "<" not in html
    assert ">" not in html
    # Each message starts one line; nothing in it starts another (continuations are indented).
    assert sum(line.startswith("bot> ") for line in out.terminal.splitlines()) == 2


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_TEXT, st.sampled_from(sorted(CAPS)))
def test_clean_leaves_nothing_to_act_on_within_the_cap(text: str, kind: Kind) -> None:
    cap = CAPS[kind]
    out = clean(text, kind=kind)
    assert acted_on(out, lines=cap.multiline) == []
    assert "\x1b" not in out
    assert "\t" not in out
    assert len(out) <= cap.max_chars
    assert out.count("\n") < cap.max_lines
    assert clean(out, kind=kind) == out


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_TEXT)
def test_typed_outside_text_is_shown_harmlessly_by_every_writer(text: str) -> None:
    out = through_types(text)
    check(out)
    # The plan line the approver approves is whole, whatever the subject says.
    assert PLAN_LINE.fullmatch(out.terminal.splitlines()[0]), out.terminal.splitlines()[0]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_TEXT)
def test_every_writer_escapes_raw_text_itself(text: str) -> None:
    check(around_types(text))
