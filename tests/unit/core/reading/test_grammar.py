"""The command grammar: exact commands parse; anything it is not sure of is deferred (None)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.reading.commands import (
    ApproveCommand,
    CancelCommand,
    Command,
    DeployCommand,
    DeploysCommand,
    HelpCommand,
    LockCommand,
    RejectCommand,
    ReleaseCommand,
    RollbackCommand,
    StatusCommand,
    UnlockCommand,
    WhereCommand,
)
from bot.core.reading.grammar import parse_command

SERVICES = {"backend", "frontend"}
ENVIRONMENTS = {"staging", "production"}


def deploy(service: str, environment: str, version: str | None = None) -> DeployCommand:
    return DeployCommand(service=service, environment=environment, version=version)


def rollback(service: str, environment: str, version: str | None = None) -> RollbackCommand:
    return RollbackCommand(service=service, environment=environment, version=version)


ROWS: list[tuple[str, Command | None]] = [
    # -- deploy: right parses
    ("deploy backend v1.4.2 to production", deploy("backend", "production", "v1.4.2")),
    ("deploy backend to staging", deploy("backend", "staging")),
    ("deploy backend@v1.4.2 to production", deploy("backend", "production", "v1.4.2")),
    ("ship backend v1.4.2 to production", deploy("backend", "production", "v1.4.2")),
    ("deploy v1.4.2 of backend to production", deploy("backend", "production", "v1.4.2")),
    ("Deploy Backend V1.4.2 To PRODUCTION", deploy("backend", "production", "V1.4.2")),
    ("  deploy frontend 2.0.0-rc.1 to staging.  ", deploy("frontend", "staging", "2.0.0-rc.1")),
    ("deploy frontend to staging!", deploy("frontend", "staging")),
    ("@deploybot deploy backend to staging", deploy("backend", "staging")),
    ("@DeployBot: deploy backend to staging", deploy("backend", "staging")),
    ("<@U123ABC> deploy backend to staging", deploy("backend", "staging")),
    (
        "<@U123ABC>, ship frontend@1.2.3+build.7 to production",
        deploy("frontend", "production", "1.2.3+build.7"),
    ),
    ("deploy   backend   v2   to   staging", deploy("backend", "staging", "v2")),
    ("ship frontend release/1.2 to staging", None),  # not version-like: starts with a letter
    # -- deploy: must defer
    ("deploy backend latest to production", None),
    ("deploy backend the new one to prod", None),
    ("deploy backend to prod", None),
    ("deploy backend to qa", None),
    ("deploy backedn to staging", None),
    ("deploy backend to stagng", None),
    ("delpoy backend to staging", None),
    ("deploy backend to staging and production", None),
    ("deploy backend to staging, production", None),
    ("deploy backend to staging & production", None),
    ("deploy backend to production staging", None),
    ("deploy backend staging to production", None),
    ("deploy frontend backend to production", None),
    ("deploy backend and frontend to staging", None),
    ("deploy backend to staging please", None),
    ("please deploy backend to staging", None),
    ("deploy backend to staging then rollback frontend in production", None),
    ("deploy backend to staging\ndeploy frontend to production", None),
    ("deploy backend to staging; deploy frontend to production", None),
    ("deploy\tbackend to staging", None),
    ("deploy backend to production!!", None),
    ("deploy backend v1.4.2. to production", None),
    ("deploy backend @v1.4.2 to production", None),
    ("deploy backend@ to production", None),
    ("deploy backend@latest to production", None),
    ("deploy @v1.4.2 to production", None),
    ("deploy backend v1.4.2 of to production", None),
    ("deploy latest of backend to production", None),
    ("deploy backend", None),
    ("deploy to production", None),
    ("deploy", None),
    ("deploy backend production", None),
    ("deploy backend in production", None),
    ("deploy bac\u212aend to staging", None),  # Kelvin sign lower-cases to "k"
    ("deploy\u200b backend to staging", None),
    ("/deploy backend to staging", None),
    ("@alice deploy backend to staging", None),
    ("<@U123ABC> <@U123ABC> deploy backend to staging", None),
    ("deploy backend v" + "1" * 100 + " to staging", None),
    # -- negations and questions
    ("don't deploy backend to production", None),
    ("do not deploy backend to production", None),
    ("never deploy backend to production", None),
    ("not deploy backend to production", None),
    ("should I deploy backend to production?", None),
    ("deploy backend to production?", None),
    ("can you deploy backend to staging", None),
    # -- rollback
    ("rollback backend in production", rollback("backend", "production")),
    ("roll back backend in production", rollback("backend", "production")),
    ("Rollback frontend in staging.", rollback("frontend", "staging")),
    ("rollback backend in production to v1.4.1", rollback("backend", "production", "v1.4.1")),
    ("roll back backend in production to V1.4.1", rollback("backend", "production", "V1.4.1")),
    ("rollback backend production", None),  # documented: the "in" is required
    ("rollback backend in prod", None),
    ("rollback backend in production to latest", None),
    ("rollback backend in production to the last good one", None),
    ("rollback backend in staging and production", None),
    ("rollback backend@v1.4.1 in production", None),
    ("roll-back backend in production", None),
    ("don't rollback backend in production", None),
    # -- approve
    ("approve", ApproveCommand()),
    ("approved", ApproveCommand()),
    ("Approve.", ApproveCommand()),
    ("APPROVED!", ApproveCommand()),
    ("approve 3f2a", ApproveCommand(plan_id="3f2a")),
    ("approve #3f2a9c01", ApproveCommand(plan_id="3f2a9c01")),
    ("@deploybot approve 0123456789abcdef", ApproveCommand(plan_id="0123456789abcdef")),
    ("approve 3F2A", None),
    ("approve 3f2", None),
    ("approve 0123456789abcdef0", None),
    ("approve ##3f2a", None),
    ("approved 3f2a", None),
    ("approve 3f2a 9c01", None),
    ("approve please", None),
    ("approve?", None),
    ("I approve this", None),
    ("don't approve", None),
    ("not approve", None),
    ("yes, approve", None),
    ("lgtm", None),
    ("approve it", None),
    # -- reject
    ("reject", RejectCommand()),
    ("reject.", RejectCommand()),
    ("reject too risky on a Friday", RejectCommand(reason="too risky on a Friday")),
    ("deny   Not tested in Staging yet.  ", RejectCommand(reason="Not tested in Staging yet.")),
    ("<@U123ABC> Reject wrong version", RejectCommand(reason="wrong version")),
    ("rejected", None),
    ("reject?", None),
    ("don't reject", None),
    ("reject: too risky", None),
    # -- cancel: leave the queue
    ("cancel", CancelCommand()),
    ("Cancel.", CancelCommand()),
    ("cancel 3f2a", CancelCommand(plan_id="3f2a")),
    ("cancel #3f2a9c01", CancelCommand(plan_id="3f2a9c01")),
    ("@deploybot cancel #3f2a", CancelCommand(plan_id="3f2a")),
    ("cancel 3F2A", None),
    ("cancel #3f2", None),
    ("cancel ##3f2a", None),
    ("cancel it", None),
    ("cancel the deploy", None),
    ("cancel backend", None),
    ("cancel 3f2a please", None),
    ("cancel 3f2a 9c01", None),
    ("cancel?", None),
    ("cancel #3f2a?", None),
    ("don't cancel", None),
    ("do not cancel 3f2a", None),
    ("cancelled", None),
    ("canceling 3f2a", None),
    # -- status, help
    ("status", StatusCommand()),
    ("  STATUS.  ", StatusCommand()),
    ("help", HelpCommand()),
    ("Help!", HelpCommand()),
    ("?", HelpCommand()),
    ("@deploybot ?", HelpCommand()),
    ("??", None),
    ("status?", None),
    ("status backend", None),
    ("help me deploy backend", None),
    # -- lock, unlock
    (
        "release backend v1.4.2 in production fixed in v1.4.3's dependency",
        ReleaseCommand(
            service="backend",
            version="v1.4.2",
            environment="production",
            reason="fixed in v1.4.3's dependency",
        ),
    ),
    (
        "release backend v1.4.2 in production",
        ReleaseCommand(service="backend", version="v1.4.2", environment="production"),
    ),
    ("release backend latest in production because", None),
    ("release backend v1.4.2 to production ok", None),
    ("release backend v1.4.2 in prod ok", None),
    ("lock production", LockCommand(environment="production")),
    (
        "lock Production Deploy freeze until Monday",
        LockCommand(environment="production", reason="Deploy freeze until Monday"),
    ),
    ("lock staging.", LockCommand(environment="staging")),
    ("lock production and staging", None),
    ("lock production staging", None),
    ("lock production while staging is tested", None),
    ("lock prod", None),
    ("lock", None),
    ("lock production?", None),
    ("unlock production", UnlockCommand(environment="production")),
    ("Unlock Staging!", UnlockCommand(environment="staging")),
    ("unlock production now", None),
    ("unlock", None),
    ("don't unlock production", None),
    # -- where, deploys
    ("where can I deploy backend", WhereCommand(service="backend")),
    ("where can I deploy frontend?", WhereCommand(service="frontend")),
    ("where can I deploy backend to production?", None),
    ("where can I deploy", None),
    ("where can I deploy backedn?", None),
    ("deploys backend in production", DeploysCommand(service="backend", environment="production")),
    ("Deploys frontend in staging.", DeploysCommand(service="frontend", environment="staging")),
    ("deploys backend in prod", None),
    ("deploys backend?", None),
    ("deploys backend production", None),
    # -- nothing to parse
    ("", None),
    ("   ", None),
    ("\n\t", None),
    (".", None),
    ("@deploybot", None),
    ("hello there", None),
    ("x" * 10_000, None),
    ("deploy backend to staging " * 400, None),
    ("reject " + "a" * 10_000, None),
]


@pytest.mark.parametrize(("text", "expected"), ROWS, ids=[repr(t)[:60] for t, _ in ROWS])
def test_parse_command(text: str, expected: Command | None) -> None:
    assert parse_command(text, services=SERVICES, environments=ENVIRONMENTS) == expected


def test_there_are_enough_rows() -> None:
    assert len(ROWS) >= 70
    assert len({text for text, _ in ROWS}) == len(ROWS)


def test_names_are_returned_as_configured_and_clashes_defer() -> None:
    assert parse_command(
        "DEPLOY API TO QA", services=["API"], environments=["QA"]
    ) == DeployCommand(service="API", environment="QA")
    assert parse_command("deploy api to qa", services=["API", "api"], environments=["qa"]) is None


_WORDS = [
    "deploy", "ship", "rollback", "roll", "back", "approve", "approved", "reject", "deny",
    "status", "help", "lock", "unlock", "where", "can", "I", "deploys", "to", "in", "of", "and",
    "not", "?", ".", "!", "@deploybot", "<@U1>", "backend", "frontend", "staging", "production",
    "prod", "qa", "v1.4.2", "1.0", "latest", "backend@v2", "3f2a", "#3f2a", "\n", "cancel",
    "skip", "soak", "break", "glass", "when", "ready", "don't", "if", "hotfix",
]  # fmt: skip


@given(
    st.one_of(
        st.text(max_size=600),
        st.lists(st.sampled_from(_WORDS) | st.text(max_size=4), max_size=8).map(" ".join),
    )
)
def test_never_raises_and_names_only_known_things(text: str) -> None:
    result = parse_command(text, services=SERVICES, environments=ENVIRONMENTS)
    if result is None:
        return
    service = getattr(result, "service", None)
    environment = getattr(result, "environment", None)
    assert service is None or service in SERVICES
    assert environment is None or environment in ENVIRONMENTS
    if isinstance(result, DeployCommand | RollbackCommand) and result.version is not None:
        assert result.version in text
    if isinstance(result, DeployCommand):
        lowered = " ".join(text.lower().split())
        assert not result.when_ready or "when ready" in lowered
        assert result.skip_soak is None or "skip soak " + result.skip_soak.lower() in lowered
        assert result.break_glass is None or "break glass " + result.break_glass.lower() in lowered


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("reject #3f2a1b2c not now", RejectCommand(plan_id="3f2a1b2c", reason="not now")),
        ("reject #3f2a", RejectCommand(plan_id="3f2a", reason=None)),
        ("reject #zz not now", RejectCommand(reason="#zz not now")),
        ("reject 3f2a not now", RejectCommand(reason="3f2a not now")),
    ],
)
def test_reject_names_its_plan_only_with_a_hash_sign(text: str, expected: object) -> None:
    assert parse_command(text, services=SERVICES, environments=ENVIRONMENTS) == expected
