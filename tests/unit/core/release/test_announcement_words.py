"""bot/core/release/announcement_words.py (pure): a deploy's announcement at every moment, for a
deploy and for a rollback, table-driven; then who asked and approved, the evidence card's
facts (capped) and the run's link, each only when known."""

from datetime import UTC, datetime
from typing import get_args

import pytest

from bot.core.release.announcement_words import AnnouncedFacts, Moment, announcement_text
from bot.core.thread.plan import CommitInfo, Evidence, Plan

AT = datetime(2026, 11, 2, 9, 14, tzinfo=UTC)
SHA = "abcdef1" + "0" * 33


def plan(kind: str = "deploy", *, previous: str | None = "v1.4.1") -> Plan:
    return Plan(
        kind=kind,
        service="backend",
        environment="production",
        version="v1.4.2" if kind == "deploy" else "v1.4.0",
        sha=SHA,
        previous_version=previous,
        requester="carol",
    )


DONE = AnnouncedFacts(at=AT, duration_s=72.4, exit_code=1)

HEADLINES: list[tuple[str, Moment, AnnouncedFacts, str]] = [
    (
        "deploy",
        "started",
        AnnouncedFacts(at=AT),
        "Deploying backend v1.4.2 (abcdef1) to production, from v1.4.1: started 09:14 UTC.",
    ),
    (
        "deploy",
        "succeeded",
        AnnouncedFacts(at=AT, duration_s=4.25),
        "Deployed backend v1.4.2 (abcdef1) to production: finished 09:14 UTC, after 4.2 s.",
    ),
    (
        "deploy",
        "succeeded",
        AnnouncedFacts(at=AT, duration_s=72.4, verifying=(2, 600)),
        "Deployed backend v1.4.2 (abcdef1) to production: finished 09:14 UTC, after 72 s. "
        "Verifying with 2 checks for 10 min.",
    ),
    (
        "deploy",
        "failed",
        DONE,
        "Deploy of backend v1.4.2 (abcdef1) to production FAILED at 09:14 UTC, after 72 s "
        "(exit 1). production may be broken; v1.4.1 was live before ('rollback backend in "
        "production' goes back to it).",
    ),
    (
        "deploy",
        "timed_out",
        AnnouncedFacts(at=AT, duration_s=900),
        "Deploy of backend v1.4.2 (abcdef1) to production TIMED OUT and was stopped at "
        "09:14 UTC, after 15 min; check production.",
    ),
    (
        "deploy",
        "interrupted",
        AnnouncedFacts(at=AT),
        "Deploy of backend v1.4.2 (abcdef1) to production: outcome unknown at 09:14 UTC. It is "
        "not run again on its own; check production.",
    ),
    (
        "deploy",
        "verified",
        DONE,
        "Deployed backend v1.4.2 (abcdef1) to production and verified at 09:14 UTC; the deploy "
        "took 72 s.",
    ),
    (
        "deploy",
        "verification_failed",
        AnnouncedFacts(at=AT, summary="Verification failed: http x: status 503\nmore"),
        "Deployed backend v1.4.2 (abcdef1) to production, but its verification FAILED at "
        "09:14 UTC: backend v1.4.2 is quarantined in production.\n"
        "Verification failed: http x: status 503",
    ),
    (
        "deploy",
        "rolled_back",
        AnnouncedFacts(at=AT, rolled_back_to="v1.4.1"),
        "Deployed backend v1.4.2 (abcdef1) to production; its verification failed and it was "
        "rolled back to v1.4.1 at 09:14 UTC.",
    ),
    (
        "rollback",
        "started",
        AnnouncedFacts(at=AT),
        "Rolling back backend in production to v1.4.0 (abcdef1), from v1.4.1: started 09:14 UTC.",
    ),
    (
        "rollback",
        "succeeded",
        AnnouncedFacts(at=AT, duration_s=12),
        "Rolled back backend in production to v1.4.0 (abcdef1): finished 09:14 UTC, after 12 s.",
    ),
    (
        "rollback",
        "failed",
        DONE,
        "Rollback of backend in production to v1.4.0 (abcdef1) FAILED at 09:14 UTC, after 72 s "
        "(exit 1).",
    ),
    (
        "rollback",
        "timed_out",
        AnnouncedFacts(at=AT, duration_s=30),
        "Rollback of backend in production to v1.4.0 (abcdef1) TIMED OUT and was stopped at "
        "09:14 UTC, after 30 s; check production.",
    ),
    (
        "rollback",
        "interrupted",
        AnnouncedFacts(at=AT),
        "Rollback of backend in production to v1.4.0 (abcdef1): outcome unknown at 09:14 UTC. "
        "It is not run again on its own; check production.",
    ),
    (
        "rollback",
        "verified",
        AnnouncedFacts(at=AT, duration_s=12),
        "Rolled back backend in production to v1.4.0 (abcdef1) and verified at 09:14 UTC; the "
        "deploy took 12 s.",
    ),
    (
        "rollback",
        "verification_failed",
        AnnouncedFacts(at=AT),
        "Rolled back backend in production to v1.4.0 (abcdef1), but its verification FAILED at "
        "09:14 UTC: backend v1.4.0 is quarantined in production.",
    ),
    (
        "rollback",
        "rolled_back",
        AnnouncedFacts(at=AT, rolled_back_to="v1.3.9"),
        "Rolled back backend in production to v1.4.0 (abcdef1); its verification failed and it "
        "was rolled back to v1.3.9 at 09:14 UTC.",
    ),
]


@pytest.mark.parametrize(("kind", "moment", "facts", "headline"), HEADLINES)
def test_each_moment_has_its_headline(
    kind: str, moment: Moment, facts: AnnouncedFacts, headline: str
) -> None:
    text = announcement_text(plan(kind), moment=moment, facts=facts)
    assert text == f"{headline}\nAsked by carol."


def test_every_moment_is_worded_for_both_kinds() -> None:
    worded = {(kind, moment) for kind, moment, _facts, _line in HEADLINES}
    moments = get_args(Moment)
    assert worded == {(k, m) for k in ("deploy", "rollback") for m in moments}


@pytest.mark.parametrize(
    ("previous", "moment", "headline"),
    [
        (None, "started", "Deploying backend v1.4.2 (abcdef1) to production: started 09:14 UTC."),
        (
            None,
            "failed",
            "Deploy of backend v1.4.2 (abcdef1) to production FAILED at 09:14 UTC, after 72 s "
            "(exit 1).",
        ),
    ],
)
def test_a_first_deploy_names_no_live_version(
    previous: str | None, moment: Moment, headline: str
) -> None:
    text = announcement_text(plan(previous=previous), moment=moment, facts=DONE)
    assert text.splitlines()[0] == headline


def test_the_facts_follow_the_headline() -> None:
    commits = [
        CommitInfo(sha=f"{i:07x}" + "0" * 33, subject=f"change {i}", author="Test")
        for i in range(7, 0, -1)
    ]
    evidence = Evidence(
        live_version="v1.4.1",
        requester="carol",
        commits_total=9,
        commits=commits,
        compare_url="https://github.com/acme/backend/compare/v1.4.1...v1.4.2",
        ci_state="success",
        ci_url="https://ci.example.com/b/1",
    )
    facts = AnnouncedFacts(
        at=AT,
        approvers=["alice", "bob"],
        evidence=evidence,
        duration_s=3,
        link="https://github.com/acme/backend/actions/runs/7",
    )
    text = announcement_text(plan(), moment="succeeded", facts=facts)
    assert text.splitlines()[1:] == [
        "Asked by carol; approved by alice, bob.",
        "9 commits from v1.4.1 to v1.4.2:",
        "  0000007 change 7 (Test)",
        "  0000006 change 6 (Test)",
        "  0000005 change 5 (Test)",
        "  0000004 change 4 (Test)",
        "  0000003 change 3 (Test)",
        "  ... and 4 more",
        "Compare: https://github.com/acme/backend/compare/v1.4.1...v1.4.2",
        "CI on abcdef1: success https://ci.example.com/b/1",
        "Run: https://github.com/acme/backend/actions/runs/7",
    ]


@pytest.mark.parametrize(
    ("evidence", "lines"),
    [
        (
            Evidence(live_version=None, requester="carol", commits_total=0, ci_state="unknown"),
            ["First deploy: no commits up to v1.4.2.", "CI on abcdef1: no status reported"],
        ),
        (Evidence(live_version="v1.4.1", requester="carol", note="git was away"), []),
    ],
)
def test_evidence_shows_only_what_is_known(evidence: Evidence, lines: list[str]) -> None:
    facts = AnnouncedFacts(at=AT, evidence=evidence, link="javascript:alert(1)")
    text = announcement_text(plan(), moment="started", facts=facts)
    assert text.splitlines()[2:] == lines  # and a link that is no web address is left out
