"""Release policy's deploy suffixes (``when ready``, ``skip soak <reason>``, ``break glass
<reason>``): said plainly, they parse; any negation, condition or hedge around them, or any
doubt about what was meant, defers the whole command, so no phrasing overrides by accident
(invariant 9)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.reading.commands import DeployCommand, LockCommand, RejectCommand, ReleaseCommand
from bot.core.reading.grammar import parse_command
from bot.core.reading.suffixes import DeploySuffixes, read_suffixes

SERVICES = {"backend", "frontend"}
ENVIRONMENTS = {"staging", "production"}


def parse(text: str) -> object:
    return parse_command(text, services=SERVICES, environments=ENVIRONMENTS)


def deploy(
    version: str | None = None,
    *,
    when_ready: bool = False,
    skip_soak: str | None = None,
    break_glass: str | None = None,
) -> DeployCommand:
    return DeployCommand(
        service="backend",
        environment="production",
        version=version,
        when_ready=when_ready,
        skip_soak=skip_soak,
        break_glass=break_glass,
    )


PARSES: list[tuple[str, DeployCommand]] = [
    # -- when ready, after every deploy form
    ("deploy backend v1.4.2 to production when ready", deploy("v1.4.2", when_ready=True)),
    ("deploy backend to production when ready", deploy(when_ready=True)),
    ("ship backend@v1.4.2 to production when ready.", deploy("v1.4.2", when_ready=True)),
    ("deploy v1.4.2 of backend to production When Ready", deploy("v1.4.2", when_ready=True)),
    ("@deploybot deploy backend to production WHEN READY!", deploy(when_ready=True)),
    ("<@U123ABC> ship backend to production when   ready", deploy(when_ready=True)),
    # -- skip soak
    (
        "deploy backend v1.4.2 to production skip soak hotfix for INC-42",
        deploy("v1.4.2", skip_soak="hotfix for INC-42"),
    ),
    (
        "deploy backend to production skip soak INC-42: login broken for all users",
        deploy(skip_soak="INC-42: login broken for all users"),
    ),
    ("Deploy Backend To Production SKIP SOAK Payment outage.", deploy(skip_soak="Payment outage")),
    ("ship backend@v2 to production skip soak sev1", deploy("v2", skip_soak="sev1")),
    ("deploy v2 of backend to production skip soak sev1", deploy("v2", skip_soak="sev1")),
    (
        "deploy backend to production skip soak verified in staging by hand",
        deploy(skip_soak="verified in staging by hand"),
    ),
    ("deploy backend to production skip soak   spaced   out  ", deploy(skip_soak="spaced out")),
    ("deploy backend to production skip soak Zoë's fix", deploy(skip_soak="Zoë's fix")),
    # words that only look like a negation or a condition are ordinary
    ("deploy backend to production skip soak incident 7", deploy(skip_soak="incident 7")),
    ("deploy backend to production skip soak knot in queue", deploy(skip_soak="knot in queue")),
    ("deploy backend to production skip soak edge case fix", deploy(skip_soak="edge case fix")),
    ("deploy backend to production skip soak iffy cache", deploy(skip_soak="iffy cache")),
    ("deploy backend to production skip soak nonce reuse", deploy(skip_soak="nonce reuse")),
    # -- break glass
    (
        "deploy backend v1.4.2 to production break glass customers are down",
        deploy("v1.4.2", break_glass="customers are down"),
    ),
    ("deploy backend to production break glass INC-7 (sev1)", deploy(break_glass="INC-7 (sev1)")),
    ("deploy backend to production Break Glass now", deploy(break_glass="now")),
    (
        "deploy backend to production break glass soak test passed",
        deploy(break_glass="soak test passed"),
    ),
    # -- both, either order, with or without a separator
    (
        "deploy backend to production skip soak hotfix break glass sev1 outage",
        deploy(skip_soak="hotfix", break_glass="sev1 outage"),
    ),
    (
        "deploy backend to production break glass sev1 outage, skip soak hotfix",
        deploy(skip_soak="hotfix", break_glass="sev1 outage"),
    ),
    (
        "deploy backend to production skip soak hotfix and break glass sev1",
        deploy(skip_soak="hotfix", break_glass="sev1"),
    ),
    (
        "deploy backend to production skip soak hotfix; break glass sev1",
        deploy(skip_soak="hotfix", break_glass="sev1"),
    ),
    (
        "deploy backend v3 to production skip soak hotfix & break glass sev1.",
        deploy("v3", skip_soak="hotfix", break_glass="sev1"),
    ),
    (
        "deploy backend to production skip soak hotfix , break glass sev1",
        deploy(skip_soak="hotfix", break_glass="sev1"),
    ),
]

DEFERS: list[str] = [
    # -- the brief's held-out phrasings: negation, condition, question, inexact words
    "deploy backend to production, don't skip soak",
    "deploy backend to production do not break glass",
    "deploy backend to production without break glass",
    "deploy backend to production unless we need to break glass",
    "deploy backend to production if needed skip soak hotfix",
    "deploy backend to production never skip soak",
    "deploy backend to production no skip soak",
    "should I deploy backend to production break glass sev1?",
    "deploy backend to production skip soak?",
    "deploy backend to production skipping soak hotfix",
    "deploy backend to production break the glass sev1",
    "deploy backend to production and skip soak later",
    "deploy backend to production but don't break glass",
    "deploy backend to production break glass if the freeze is on",
    "deploy backend to production when ready? no",
    "deploy backend to production when not ready",
    "don't deploy backend to production break glass x",
    # -- a missing reason
    "deploy backend to production skip soak",
    "deploy backend to production break glass.",
    "deploy backend to production break glass !",
    "deploy backend to production skip soak ...",
    "deploy backend to production skip soak -",
    # -- a reason that negates, conditions, hedges or takes it back (anywhere in it)
    "deploy backend to production skip soak not needed",
    "deploy backend to production skip soak NOT",
    "deploy backend to production skip soak don\u2019t",
    "deploy backend to production skip soak dont",
    "deploy backend to production skip soak hotfix, but not yet",
    "deploy backend to production skip soak hotfix only if staging is green",
    "deploy backend to production skip soak when staging is green",
    "deploy backend to production skip soak once staging is green",
    "deploy backend to production skip soak after staging is green",
    "deploy backend to production skip soak until friday",
    "deploy backend to production skip soak later",
    "deploy backend to production skip soak maybe",
    "deploy backend to production skip soak probably fine",
    "deploy backend to production skip soak as needed",
    "deploy backend to production skip soak pending review",
    "deploy backend to production skip soak should be fine",
    "deploy backend to production skip soak sev1 (or not)",
    'deploy backend to production skip soak "not a drill"',
    "deploy backend to production skip soak non-urgent",
    "deploy backend to production skip soak nothing changed",
    "deploy backend to production skip soak customers can't wait",
    "deploy backend to production skip soak hotfix -- never mind",
    "deploy backend to production skip soak in the event of an outage",
    "deploy backend to production break glass unless the freeze ends",
    "deploy backend to production break glass in case the freeze is on",
    "deploy backend to production break glass whether or not it is frozen",
    "deploy backend to production break glass otherwise wait",
    "deploy backend to production break glass jk",
    "deploy backend to production break glass just kidding",
    "deploy backend to production break glass cancel that",
    "deploy backend to production break glass hold on",
    "deploy backend to production break glass w/o approval",
    "deploy backend to production break glass hypothetically",
    "deploy backend to production break glass sev1 \U0001f44e",
    "deploy backend to production break glass \u274c",
    "deploy backend to production break glass \uff4e\uff4f\uff54 needed",  # fullwidth "not"
    "deploy backend to production break glass nicht n\u00f6tig",
    "deploy backend to production break glass si besoin",
    "deploy backend to production break glass sin prisa",
    # -- a reason that is a second clause: starts or ends with a conjunction
    "deploy backend to production break glass and staging",
    "deploy backend to production break glass sev1 and",
    "deploy backend to production break glass or skip soak",
    "deploy backend to production skip soak hotfix or break glass sev1",
    "deploy backend to production skip soak hotfix then break glass sev1",
    "deploy backend to production skip soak hotfix but break glass sev1",
    "deploy backend to production skip soak and break glass sev1",
    "deploy backend to production skip soak rather than break glass",
    "deploy backend to production skip soak instead of break glass sev1",
    # -- each phrase at most once; when ready alone
    "deploy backend to production skip soak hotfix skip soak again",
    "deploy backend to production break glass a break glass b",
    "deploy backend to production skip soak a break glass b skip soak c",
    "deploy backend to production when ready skip soak hotfix",
    "deploy backend to production skip soak hotfix when ready",
    "deploy backend to production when ready break glass sev1",
    "deploy backend to production when ready when ready",
    "deploy backend to production when ready now",
    "deploy backend to production when ready please",
    "deploy backend to production ready when",
    "deploy backend to production when-ready",
    "deploy backend to production whenready",
    "deploy backend to production if ready",
    "deploy backend to production once ready",
    "deploy backend to production when soak allows",
    # -- inexact words or anything between the command and the phrase
    "deploy backend to production skip soak: hotfix",
    "deploy backend to production skip-soak hotfix",
    "deploy backend to production skip the soak hotfix",
    "deploy backend to production skip soaking hotfix",
    "deploy backend to production skips soak hotfix",
    "deploy backend to production broke glass sev1",
    "deploy backend to production breaking glass sev1",
    "deploy backend to production please skip soak hotfix",
    "deploy backend to production, skip soak hotfix",
    "deploy backend to production (skip soak hotfix)",
    "deploy backend to production now break glass sev1",
    "deploy backend to production brea\u212a glass sev1",  # Kelvin sign, not a "k"
    "deploy backend to production skip soak hotfix\nno",
    "deploy backend to production break glass sev1 \u2014 not",
    # -- a suffix elsewhere than after a complete deploy
    "not now: deploy backend to production break glass sev1",
    "please deploy backend to production skip soak hotfix",
    "never deploy backend to production skip soak hotfix",
    "can you deploy backend to production skip soak hotfix",
    "deploy backend skip soak hotfix to production",
    "deploy backend when ready to production",
    "deploy backend to production to staging skip soak hotfix",
    "deploy backend to prod skip soak hotfix",
    "deploy backend latest to production when ready",
    "rollback backend in production break glass sev1",
    "rollback backend in production when ready",
    "skip soak hotfix",
    "break glass sev1",
    "when ready",
]


@pytest.mark.parametrize(("text", "expected"), PARSES, ids=[t[:60] for t, _ in PARSES])
def test_a_plain_suffix_parses(text: str, expected: DeployCommand) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize("text", DEFERS, ids=[repr(t)[:60] for t in DEFERS])
def test_any_doubt_defers(text: str) -> None:
    assert parse(text) is None


def test_the_phrases_in_another_commands_reason_are_only_its_reason() -> None:
    assert parse("release backend v1.4.2 in production break glass") == ReleaseCommand(
        service="backend", version="v1.4.2", environment="production", reason="break glass"
    )
    assert parse("lock production skip soak hotfix") == LockCommand(
        environment="production", reason="skip soak hotfix"
    )
    assert parse("reject skip soak when ready") == RejectCommand(reason="skip soak when ready")


def test_the_tables_are_large_and_distinct() -> None:
    assert len(PARSES) >= 25
    assert len(DEFERS) >= 100
    texts = [t for t, _ in PARSES] + DEFERS
    assert len(set(texts)) == len(texts)


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("", DeploySuffixes()),
        ("when ready", DeploySuffixes(when_ready=True)),
        ("skip soak a b", DeploySuffixes(skip_soak="a b")),
        ("break glass x, skip soak y", DeploySuffixes(skip_soak="y", break_glass="x")),
        ("skip soak x & break glass y", DeploySuffixes(skip_soak="x", break_glass="y")),
        ("skip soak x; break glass y;", DeploySuffixes(skip_soak="x", break_glass="y;")),
        ("skip soak x and", None),  # a separator with nothing after it
        ("skip soak x and and break glass y", None),
        ("skip soak", None),
        ("ready", None),
        ("please", None),
    ],
)
def test_read_suffixes(said: str, expected: DeploySuffixes | None) -> None:
    assert read_suffixes(said.split()) == expected


# -- properties: the test's own words of negation and condition, not the module's list
_AROUND = [
    "not", "Not", "NOT", "don't", "dont", "don\u2019t", "do not", "never", "no", "No,",
    "without", "unless", "if", "If", "if needed", "only if", "when", "whenever", "but not",
    "rather than", "instead of", "can't", "won't", "shouldn't", "wouldn't", "isn't",
    "in case", "maybe", "perhaps", "later", "until", "after", "once", "(not)", "not,",
    "never mind", "cancel", "jk", "w/o", "unless needed", "provided", "whether",
]  # fmt: skip
_FILLER = [
    "hotfix", "INC-42", "customers", "are", "waiting", "the", "outage", "sev1", "staging",
    "verified", "we", "need", "to", "please", "now", "x", "v1.4.2", "for", "login", ",",
]  # fmt: skip
_COMMANDS = [
    "deploy backend to production",
    "deploy backend v1.4.2 to production",
    "ship backend@v1.4.2 to staging",
    "deploy v1.4.2 of frontend to staging",
    "@deploybot deploy frontend to production",
]
_PHRASES = ["skip soak", "break glass", "when ready", "Skip Soak", "BREAK GLASS", "When Ready"]
_words = st.lists(st.sampled_from(_FILLER), max_size=4)


@given(
    command=st.sampled_from(_COMMANDS),
    phrases=st.lists(st.sampled_from(_PHRASES), min_size=1, max_size=2),
    reasons=st.lists(_words, min_size=2, max_size=2),
    hedge=st.sampled_from(_AROUND),
    place=st.floats(min_value=0, max_value=1),
    ending=st.sampled_from(["", ".", "!"]),
)
def test_a_negation_or_condition_anywhere_around_an_override_sets_none(
    command: str,
    phrases: list[str],
    reasons: list[list[str]],
    hedge: str,
    place: float,
    ending: str,
) -> None:
    words = command.split()
    for phrase, reason in zip(phrases, reasons, strict=False):
        words += [phrase, *reason]
    at = round(place * len(words))  # before the command, inside it, before or in a reason
    text = " ".join([*words[:at], hedge, *words[at:]]) + ending
    result = parse(text)
    assert (
        result is None
        or not isinstance(result, DeployCommand)
        or (not result.when_ready and result.skip_soak is None and result.break_glass is None)
    ), text


_PLAIN = [
    "hotfix", "INC-42", "sev1", "customers", "login", "outage", "payments", "broken", "since",
    "09:00", "UTC", "fix", "for", "the", "Zoë's", "incident", "(p1)", "#ops", "knot", "iffy",
]  # fmt: skip


@given(
    command=st.sampled_from(_COMMANDS[:4]),
    phrase=st.sampled_from(["skip soak", "break glass"]),
    reason=st.lists(st.sampled_from(_PLAIN), min_size=1, max_size=6).map(" ".join),
)
def test_a_plain_reason_is_kept_as_typed(command: str, phrase: str, reason: str) -> None:
    result = parse(f"{command} {phrase} {reason}")
    assert isinstance(result, DeployCommand)
    said = result.skip_soak if phrase == "skip soak" else result.break_glass
    other = result.break_glass if phrase == "skip soak" else result.skip_soak
    assert (said, other, result.when_ready) == (reason, None, False)
