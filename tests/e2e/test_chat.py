"""``deploybot chat`` as a user runs it: a subprocess fed lines on standard input."""

from pathlib import Path

from tests.harness import chat as run_chat
from tests.support import calls, write_setup


def chat(lines: list[str], *, args: list[str], home: Path) -> str:
    """What the terminal shows (the demo's deploys take 0.2 s)."""
    done = run_chat(lines, home=home, args=args, env={"DEPLOYBOT_DEMO_SLEEP_S": "0.2"})
    return done.stdout.decode()


def test_request_approval_by_a_second_person_deploys_once(tmp_path: Path) -> None:
    config = write_setup(tmp_path)
    out = chat(
        ["deploy backend to production", "/as alice", "approve"],
        args=["--config", str(config), "--user", "carol"],
        home=tmp_path,
    )
    lines = out.splitlines()
    assert lines[0] == (
        "deploybot: embedded store (state is lost on exit; set REDIS_URL to "
        "keep it). No ANTHROPIC_API_KEY: exact commands only; type 'help'."
    )
    assert lines[1] == "carol> deploy backend to production"
    assert lines[2].startswith("bot> Plan #")
    assert lines[2].endswith(
        ": backend v1.4.2 ("
        + lines[2].split("(")[1].split(",")[0]
        + ', "fix login timeout") -> production (first deploy).'
    )
    # The evidence: who asked, what is live, the commits it would deploy (from git).
    assert lines[3] == "     Asked by carol; live now: nothing (first deploy)."
    assert lines[4].startswith("     First deploy: ")
    needs = lines.index(
        "     production needs 1 approval from: alice, bob, dave (not carol). Expires in 60 min."
    )
    assert any("fix login timeout" in line for line in lines[5:needs])
    lines = lines[:3] + lines[needs:]
    assert lines[4] == "     Reply 'approve' or 'reject <reason>'."
    assert lines[5:7] == ["carol> /as alice", "alice> approve"]
    assert lines[7].startswith("bot> Deploying backend v1.4.2 to production ... ok in ")
    assert lines[7].endswith(' s. Last output: "backend v1.4.2 is live".')
    assert len(lines) == 8
    assert len(calls(tmp_path)) == 1


def test_rejection_with_a_reason(tmp_path: Path) -> None:
    config = write_setup(tmp_path)
    out = chat(
        [
            "deploy backend v1.4.1 to production",
            "/as bob",
            "reject error budget is spent",
            "status",
        ],
        args=["--config", str(config), "--user", "carol"],
        home=tmp_path,
    )
    assert "rejected by bob: error budget is spent. Nothing was deployed." in out
    assert calls(tmp_path) == []


def test_unknown_user_cannot_request_production(tmp_path: Path) -> None:
    config = write_setup(tmp_path)
    out = chat(
        ["deploy backend to production", "approve"],
        args=["--config", str(config), "--user", "mallory"],
        home=tmp_path,
    )
    assert (
        "(mallory is not in the config's [people]: you can talk to the bot, but not "
        "request deploys or approve)"
    ) in out
    assert (
        "bot> I don't know mallory: only people listed in deploybot's config may request "
        "deploys. Nothing was deployed."
    ) in out
    assert "bot> Nothing in this thread is waiting for approval." in out
    assert calls(tmp_path) == []


def test_first_run_with_no_config_uses_the_demo(tmp_path: Path) -> None:
    out = chat(
        ["deploy frontend to staging", "deploys frontend in staging"],
        args=[],
        home=tmp_path,
    )
    assert "carol> deploy frontend to staging" in out
    assert "bot> Deploying frontend v2.1.0 to staging ... ok in" in out
    assert "v2.1.0 succeeded, asked by carol" in out
    log = (tmp_path / "deploys.log").read_text().splitlines()
    assert len(log) == 1
    assert " deploy frontend v2.1.0 staging " in log[0]


def test_a_swapped_plan_needs_its_own_approval_by_name(tmp_path: Path) -> None:
    """Issue 9.4 in the terminal: carol swaps v1.4.1 for v1.4.2 after the approvers read it;
    a bare 'approve' from each of them is refused and the open plan is shown; only
    'approve <plan id>' deploys, once."""
    config = write_setup(tmp_path)
    first = chat(
        [
            "deploy backend v1.4.1 to production",
            "deploy backend v1.4.2 to production",
            "/as alice",
            "approve",
            "/as bob",
            "approve",
        ],
        args=["--config", str(config), "--user", "carol"],
        home=tmp_path,
    )
    plans = [line.split()[2].rstrip(":") for line in first.splitlines() if "bot> Plan #" in line]
    assert len(plans) == 2, first
    assert first.count("a bare 'approve' could mean the wrong one") == 2
    assert first.count(f"say 'approve {plans[1][1:]}'") == 2
    assert calls(tmp_path) == []

    named = chat(
        [
            "deploy backend v1.4.1 to production",
            "deploy backend v1.4.2 to production",
            "/as alice",
            f"approve {plans[1][1:]}",
        ],
        args=["--config", str(config), "--user", "carol"],
        home=tmp_path,
    )
    assert "Deploying backend v1.4.2 to production ... ok" in named
    assert [c.split()[:4] for c in calls(tmp_path)] == [
        ["deploy", "backend", "v1.4.2", "production"]
    ]
