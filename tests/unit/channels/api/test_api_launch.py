"""Launching with release policy's typed fields: the words appended, or a 422 naming the field.

Whatever ``launch_text`` accepts, the grammar reads back from the final text as the same
deploy with exactly the fields' overrides (invariant 9), and a reason with a word of
negation or condition in it is refused wherever the word sits.
"""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.config.config import parse_config
from bot.core.reading.commands import DeployCommand
from bot.core.reading.grammar import parse_command
from bot.core.reading.suffixes import HEDGES
from channels.api.bodies import LaunchRequest
from channels.api.launch import LaunchError, launch_text

CONFIG = parse_config(
    """
[people.alice]
[services.backend]
repo = "r"
deploy = ["./d"]
environments = ["staging", "production"]
[environments.staging]
[environments.production]
approval = true
approvers = ["alice"]
""",
    base_dir=Path("/srv"),
)
PROD = "deploy backend v1.4.2 to production"
LONG_VERSION = "deploy backend v" + "1" * 98 + " to production"


def request(
    text: str = PROD,
    *,
    when_ready: bool = False,
    skip_soak: str | None = None,
    break_glass: str | None = None,
) -> LaunchRequest:
    return LaunchRequest(
        text=text, user="alice", when_ready=when_ready, skip_soak=skip_soak, break_glass=break_glass
    )


def read_back(text: str) -> DeployCommand:
    command = parse_command(text, services=CONFIG.services, environments=CONFIG.environments)
    assert isinstance(command, DeployCommand), text
    return command


R = request
ACCEPTED: list[tuple[str, LaunchRequest, str]] = [
    ("free text without fields", R("please ship the login fix"), "please ship the login fix"),
    ("text's own suffix, no fields", R(f"{PROD} when ready"), f"{PROD} when ready"),
    ("when ready", R(when_ready=True), f"{PROD} when ready"),
    ("skip soak", R(skip_soak="INC-7 hotfix"), f"{PROD} skip soak INC-7 hotfix"),
    ("break glass", R(break_glass="checkout outage"), f"{PROD} break glass checkout outage"),
    (
        "both, spaces made one",
        R(skip_soak=" INC-7   hotfix ", break_glass="outage"),
        f"{PROD} skip soak INC-7 hotfix, break glass outage",
    ),
    ("a trailing '.' goes", R(f"  {PROD}. ", when_ready=True), f"{PROD} when ready"),
    (
        "latest tag, other form",
        R("@deploybot ship backend to staging!", skip_soak="smoke tests green"),
        "@deploybot ship backend to staging skip soak smoke tests green",
    ),
    (
        "version of service",
        R("deploy v1.4.2 of backend to production", break_glass="Störung im Checkout"),
        "deploy v1.4.2 of backend to production break glass Störung im Checkout",
    ),
]


@pytest.mark.parametrize(("case", "body", "expected"), ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_accepted(case: str, body: LaunchRequest, expected: str) -> None:
    final = launch_text(body=body, config=CONFIG)
    assert final == expected
    if body.when_ready or body.skip_soak or body.break_glass:
        read = read_back(final)
        assert read.when_ready == body.when_ready
        assert read.skip_soak == (" ".join(body.skip_soak.split()) if body.skip_soak else None)
        assert read.break_glass == (
            " ".join(body.break_glass.split()) if body.break_glass else None
        )


REFUSED: list[tuple[str, LaunchRequest, str]] = [
    ("when ready with an override", R(when_ready=True, skip_soak="x"), "when_ready: goes with"),
    ("free text", R("ship it", skip_soak="hotfix"), "skip_soak: only with a deploy command"),
    ("a rollback", R("rollback backend in production", break_glass="x"), "break_glass: only"),
    ("unknown environment", R("deploy backend to prod", when_ready=True), "when_ready: only"),
    ("a question", R(f"{PROD}?", when_ready=True), "is not one"),
    (
        "both fields named",
        R("status", skip_soak="a", break_glass="b"),
        "skip_soak and break_glass: only with",
    ),
    ("said twice", R(f"{PROD} when ready", when_ready=True), "text already ends with"),
    ("said in text", R(f"{PROD} skip soak x", break_glass="y"), "break_glass: text already"),
    ("negation", R(skip_soak="not needed"), "skip_soak: the reason is not plain"),
    ("contraction", R(skip_soak="don't wait"), "skip_soak: the reason is not plain"),
    ("condition", R(break_glass="if the freeze is on"), "break_glass: the reason is not plain"),
    ("condition inside", R(break_glass="hotfix, unless QA objects"), "the reason is not plain"),
    ("hedge", R(skip_soak="maybe later"), "Word the reason without them"),
    ("conjunction at the end", R(skip_soak="hotfix and"), "starts or ends with 'and'/'or'"),
    ("conjunction at the start", R(break_glass="or later"), "break_glass: the reason is not plain"),
    ("a symbol", R(skip_soak="hotfix \N{THUMBS DOWN SIGN}"), "a symbol"),
    ("phrase in a reason", R(skip_soak="then break glass"), "the reason is not plain"),
    ("phrase inside a reason", R(skip_soak="so break glass now"), "must not itself say"),
    ("too long together", R(LONG_VERSION, skip_soak="a" * 200, break_glass="b" * 200), "500"),
]


@pytest.mark.parametrize(("case", "body", "error"), REFUSED, ids=[c[0] for c in REFUSED])
def test_refused(case: str, body: LaunchRequest, error: str) -> None:
    with pytest.raises(LaunchError) as raised:
        launch_text(body=body, config=CONFIG)
    assert error in str(raised.value)


def test_refusals_do_not_echo_the_reason() -> None:
    with pytest.raises(LaunchError) as raised:
        launch_text(body=R(skip_soak="not sk-ant-SECRET"), config=CONFIG)
    assert "SECRET" not in str(raised.value)


_WORD = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-"), min_size=1, max_size=8)
_REASON = st.lists(_WORD, min_size=1, max_size=6).map(" ".join)


@settings(max_examples=200, deadline=None)
@given(
    skip=st.none() | _REASON,
    glass=st.none() | _REASON,
    ready=st.booleans(),
)
def test_an_accepted_launch_reads_back_exactly_its_fields(
    skip: str | None, glass: str | None, ready: bool
) -> None:
    body = R(when_ready=ready, skip_soak=skip, break_glass=glass)
    try:
        final = launch_text(body=body, config=CONFIG)
    except LaunchError:
        return
    read = read_back(final)
    assert (read.service, read.environment, read.version) == ("backend", "production", "v1.4.2")
    assert (read.when_ready, read.skip_soak, read.break_glass) == (ready, skip, glass)


@settings(max_examples=200, deadline=None)
@given(
    words=st.lists(_WORD, min_size=1, max_size=5),
    hedge=st.sampled_from(sorted(HEDGES)),
    at=st.integers(min_value=0, max_value=5),
    field=st.sampled_from(["skip_soak", "break_glass"]),
)
def test_a_hedge_anywhere_in_a_reason_is_refused(
    words: list[str], hedge: str, at: int, field: str
) -> None:
    words.insert(min(at, len(words)), hedge)
    body = LaunchRequest.model_validate({"text": PROD, "user": "alice", field: " ".join(words)})
    with pytest.raises(LaunchError) as raised:
        launch_text(body=body, config=CONFIG)
    assert str(raised.value).startswith(f"{field}: ")
