"""A version is its commit (issue 15.3), on hand-built facts: quarantine, "the newest tag",
rollback targets, "older than live" and the re-check decide on the sha, never on how a tag
is spelled; and the approver sees a commit that is not built on what is live."""

from datetime import UTC, datetime

import pytest

from bot.core.errors import PlanRefused, ToolFailed
from bot.core.loop.planning import build_plan, planned_commit
from bot.core.policy.approval import Allowed, Refused
from bot.core.policy.deploys import last_good_before
from bot.core.policy.live import check_live_state, check_not_older
from bot.core.policy.quarantine import banned_commits, release_keys
from bot.core.ports.outbound import ApprovalCard
from bot.core.thread.intents import Deploy, Rollback
from bot.core.thread.plan import DeployRecord, Lineage, Plan, Quarantined, Tag
from bot.core.wording.messages import approval_request_text
from channels.slack.blocks import approval_blocks

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
A, B, C, D, E = ("a" * 40, "b" * 40, "c" * 40, "d" * 40, "e" * 40)


def tag(name: str, sha: str) -> Tag:
    return Tag(name=name, sha=sha, subject=f"subject of {name}")


def record(version: str, sha: str, result: str = "succeeded") -> DeployRecord:
    return DeployRecord.model_validate(
        {
            "thread_id": "t",
            "kind": "deploy",
            "version": version,
            "sha": sha,
            "requester": "carol",
            "result": result,
            "at": "2026-12-01T09:00:00+00:00",
        }
    )


def banned(version: str, sha: str | None) -> Quarantined:
    return Quarantined(
        version=version,
        sha=sha,
        by="verification",
        reason="5xx above 1%",
        at="2026-12-01T10:00:00+00:00",
    )


def deploy(version: str | None) -> Deploy:
    return Deploy(service="backend", environment="staging", version=version)


def rollback(version: str | None = None) -> Rollback:
    return Rollback(service="backend", environment="staging", version=version)


# v1.4.2 and its aliases all name commit C; v1.4.1 is B, v1.4.0 is A.
TAGS = [
    tag("v1.4.2", C),
    tag("1.4.2", C),
    tag("v1.4.1", B),
    tag("v1.4.0", A),
    tag("release-2026-12", C),
    tag("build-417", C),
]
LIVE_B = [record("v1.4.1", B), record("v1.4.0", A)]
C_QUARANTINED = {C: banned("v1.4.2", C)}


@pytest.mark.parametrize("alias", ["v1.4.2", "1.4.2", "release-2026-12", "build-417"])
def test_every_name_of_a_quarantined_commit_is_refused(alias: str) -> None:
    with pytest.raises(PlanRefused) as refused:
        build_plan(deploy(alias), tags=TAGS, history=LIVE_B, requester="carol",
                   quarantined=C_QUARANTINED)  # fmt: skip
    said = str(refused.value)
    assert said.startswith(f"backend {alias} is quarantined in staging")
    if alias != "v1.4.2":
        assert f"it is commit {C[:7]}, quarantined as v1.4.2" in said
    assert f"'release backend {alias} in staging <reason>'" in said


def test_a_tag_moved_after_the_quarantine_is_judged_by_its_new_commit() -> None:
    moved = [tag("v1.4.2", D), tag("1.4.2", C), tag("v1.4.1", B)]
    plan = build_plan(deploy("v1.4.2"), tags=moved, history=LIVE_B, requester="carol",
                      quarantined=C_QUARANTINED, lineage=Lineage(relation="ahead"))  # fmt: skip
    assert (plan.version, plan.sha) == ("v1.4.2", D)
    with pytest.raises(PlanRefused):  # the quarantined commit stays quarantined by any name
        build_plan(deploy("1.4.2"), tags=moved, history=LIVE_B, requester="carol",
                   quarantined=C_QUARANTINED)  # fmt: skip


def test_the_newest_tag_skips_quarantined_commits() -> None:
    tags = [tag("v1.5.0", D), tag("v1.4.2", C), tag("1.4.2", C), tag("v1.4.1", B)]
    quarantined = {D: banned("v1.5.0", D), C: banned("v1.4.2", C)}
    plan = build_plan(deploy(None), tags=tags, history=[record("v1.4.0", A)], requester="x",
                      quarantined=quarantined, lineage=Lineage(relation="ahead"))  # fmt: skip
    assert (plan.version, plan.sha) == ("v1.4.1", B)
    assert planned_commit(deploy(None), tags=tags, history=[], quarantined=quarantined) == B
    with pytest.raises(PlanRefused, match="Every older tag is quarantined there too"):
        build_plan(deploy(None), tags=tags[:3], history=[], requester="x",
                   quarantined=quarantined)  # fmt: skip


def test_old_entries_without_a_commit_still_ban_their_name_and_its_commits() -> None:
    """Entries stored before commits were recorded: resolved when read, by the commit the
    history recorded under the name and the commit the name points at now."""
    stored = (
        '{"version":"v1.4.2","by":"verification","reason":"5xx above 1%",'
        '"at":"2026-12-01T10:00:00+00:00","thread_id":"t0"}'
    )  # as bot/shell/world/quarantine.py wrote it, keyed by the tag name
    old = {"v1.4.2": Quarantined.model_validate_json(stored)}
    assert old["v1.4.2"] == banned("v1.4.2", None)
    history = [record("v1.4.1", B), record("v1.4.2", E, "succeeded"), record("v1.4.0", A)]
    tags = [tag("v1.4.2", C), tag("release-x", E), tag("v1.4.1", B)]
    assert set(banned_commits(old, tags=tags, history=history)) == {C, E}
    for name in ("v1.4.2", "release-x"):
        with pytest.raises(PlanRefused):
            build_plan(deploy(name), tags=tags, history=history, requester="c", quarantined=old)


# -- "older than live" is git ancestry, for any tag scheme ------------------------------------


@pytest.mark.parametrize(
    ("version", "live", "lineage", "backwards"),
    [
        ("build-416", "build-417", Lineage(relation="behind", missing=1), True),
        ("release-2026-12-01", "release-2026-11-01", Lineage(relation="behind", missing=4), True),
        ("v1.5.0", "v1.4.1", Lineage(relation="behind", missing=2), True),  # a tag out of order
        ("v1.4.0", "v1.4.1", Lineage(relation="ahead"), False),  # names lie, git does not
        ("build-418", "build-417", Lineage(relation="ahead"), False),
        ("hotfix-1", "build-417", Lineage(relation="diverged", missing=3), False),
        ("1.4.1", "v1.4.1", Lineage(relation="same"), False),
        ("v1.4.0", "v1.4.1", Lineage(relation="unknown", why="offline"), True),  # semver then
        ("v1.4.0", "v1.4.1", None, True),
        ("build-416", "build-417", Lineage(relation="unknown", why="offline"), False),
    ],
)
def test_older_than_live_is_decided_by_ancestry(
    version: str, live: str, lineage: Lineage | None, backwards: bool
) -> None:
    verdict = check_not_older(
        service="backend", environment="staging", version=version, live=live, lineage=lineage
    )
    assert isinstance(verdict, Refused) is backwards
    if backwards:
        assert isinstance(verdict, Refused)
        assert f"say 'rollback backend in staging to {version}'" in verdict.reason


def test_an_ancestor_of_live_under_a_non_version_name_is_refused_as_a_rollback() -> None:
    tags = [tag("build-417", C), tag("build-416", B)]
    with pytest.raises(PlanRefused, match="back from build-417 to build-416"):
        build_plan(deploy("build-416"), tags=tags, history=[record("build-417", C)],
                   requester="carol", lineage=Lineage(relation="behind", missing=1))  # fmt: skip


# -- the approver sees a commit that is not built on what is live ----------------------------


def diverged_plan() -> Plan:
    tags = [tag("hotfix-7", D), tag("v1.4.1", B)]
    return build_plan(deploy("hotfix-7"), tags=tags, history=LIVE_B, requester="carol",
                      lineage=Lineage(relation="diverged", missing=3))  # fmt: skip


def test_a_diverged_commit_is_named_on_the_card_in_every_channel() -> None:
    plan = diverged_plan()
    assert plan.previous_sha == B
    warning = "not built on what is live: 3 commits of v1.4.1 are missing"
    assert warning in plan.describe()
    text = approval_request_text(plan, approvers=["alice"], min_approvals=1, timeout_s=3600)
    assert warning in text.splitlines()[0]  # the plan line itself (terminal, email, API)
    card = ApprovalCard(plan=plan, plan_hash=plan.plan_hash, approvers=["alice"],
                        min_approvals=1, expires_at=NOW)  # fmt: skip
    blocks = [b.to_dict() for b in approval_blocks(card, thread_id="t", slack_ids={})]
    assert "*Not built on what is live: 3 commits of v1.4.1 are missing*" in str(blocks)


def test_what_the_approver_sees_is_bound_into_the_plan_hash() -> None:
    plan = diverged_plan()
    ahead = plan.model_copy(update={"lineage": Lineage(relation="ahead")})
    fewer = plan.model_copy(update={"lineage": Lineage(relation="diverged", missing=1)})
    assert len({plan.plan_hash, ahead.plan_hash, fewer.plan_hash}) == 3
    assert "1 commit of v1.4.1 is missing" in fewer.describe()
    unknown = plan.model_copy(update={"lineage": Lineage(relation="unknown", why="no git")})
    assert "not checked that it is built on v1.4.1 (no git)" in unknown.describe()
    assert ahead.not_built_on_live() is None


# -- rollback targets: the last good commit, not quarantined, not the failing one ------------


def test_rollback_goes_to_the_last_good_commit_that_is_not_quarantined() -> None:
    history = [record("v1.4.2", C), record("v1.4.1", B), record("v1.4.0", A)]
    assert last_good_before(history) == history[1]
    assert last_good_before(history, skip={B}) == history[2]
    failed = [record("v1.4.3", D, "failed"), *history]
    assert last_good_before(failed) == history[0]  # what was live before the failure
    assert last_good_before(failed, skip={C}) == history[1]
    same_commit = [record("1.4.2", C, "failed"), *history]  # the failing commit is live too
    assert last_good_before(same_commit) == history[1]


def test_a_rollback_deploys_the_commit_that_was_good_not_a_moved_tag() -> None:
    history = [record("v1.4.2", C), record("v1.4.1", B)]
    moved = [tag("v1.4.2", C), tag("v1.4.1", D), tag("1.4.1", B)]
    plan = build_plan(rollback(), tags=moved, history=history, requester="carol")
    assert (plan.kind, plan.version, plan.sha) == ("rollback", "1.4.1", B)
    with pytest.raises(ToolFailed, match=r"the tag v1.4.1 moved \(it points at ddddddd now\)"):
        build_plan(rollback(), tags=moved[:2], history=history, requester="carol")
    with pytest.raises(PlanRefused, match="quarantined"):
        build_plan(rollback("1.4.1"), tags=moved, history=history, requester="carol",
                   quarantined={"x": banned("v1.4.1", B)})  # fmt: skip
    with pytest.raises(ToolFailed, match="nothing to roll back"):
        build_plan(rollback("v1.4.2"), tags=moved, history=history, requester="carol")


# -- the re-check just before a plan runs compares commits -----------------------------------


def test_the_recheck_compares_the_live_commit_not_its_name() -> None:
    plan = build_plan(deploy("v1.4.2"), tags=[tag("v1.4.2", C), tag("v1.4.1", B)],
                      history=LIVE_B, requester="carol",
                      lineage=Lineage(relation="ahead"))  # fmt: skip
    tags = [tag("v1.4.2", C)]
    assert check_live_state(plan, history=LIVE_B, tags=tags, now=NOW) == Allowed()
    renamed = [record("1.4.1", B), *LIVE_B]  # the same commit redeployed under an alias
    assert check_live_state(plan, history=renamed, tags=tags, now=NOW) == Allowed()
    moved = [record("v1.4.1", E), *LIVE_B]  # v1.4.1 moved to another commit and redeployed
    verdict = check_live_state(plan, history=moved, tags=tags, now=NOW)
    assert isinstance(verdict, Refused)
    assert f"staging is now v1.4.1 at {E[:7]}" in verdict.reason
    assert f"this plan was made against v1.4.1 at {B[:7]}" in verdict.reason


# -- release: the commit, whichever name it was quarantined under ----------------------------


def test_release_by_any_name_lifts_the_commit() -> None:
    entries = {C: banned("v1.4.2", C), A: banned("v1.4.0", A)}
    for name in ("1.4.2", "release-2026-12", "v1.4.2", C[:7]):
        assert release_keys(entries, asked=name, tags=TAGS, history=[]) == ([C], None)
    moved = [tag("v1.4.2", D)]
    keys, why = release_keys(entries, asked="v1.4.2", tags=moved, history=[])
    assert keys == []
    assert why == (
        f"v1.4.2 now points at {D[:7]}, which is not quarantined; commit {C[:7]}, "
        "quarantined as v1.4.2, stays quarantined."
    )
    gone = release_keys(entries, asked="v1.4.0", tags=[], history=[])  # the tag was deleted
    assert gone == ([A], None)
    assert release_keys(entries, asked="v1.4.1", tags=TAGS, history=[]) == (
        [],
        f"v1.4.1 ({B[:7]}) is not quarantined.",
    )
