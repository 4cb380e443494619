"""``deploybot chat`` as docs/release-policy.md shows it (a subprocess fed lines): the reply to
``when ready`` says why and when it is planned again (a channel that leaves out a running
deploy's progress still shows it), a freeze refuses a plain request and a break glass by
someone it does not name, and lets through the person it names and a rollback. Counted in
the deploy script's log."""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.e2e.test_chat import chat
from tests.support import calls, write_setup

SOAK = 'requires = ["staging"]\nsoak_s = 3600\nsoak_override_by = ["alice"]'


def said(out: str) -> list[str]:
    return [line.removeprefix("bot> ") for line in out.splitlines() if line.startswith("bot> ")]


def test_when_ready_says_when_it_is_planned_again_and_cancel_ends_it(tmp_path: Path) -> None:
    config = write_setup(tmp_path, production=SOAK)
    out = chat(
        [
            "deploy backend v1.4.2 to staging",
            "deploy backend v1.4.2 to production when ready",
            "cancel",
        ],
        args=["--config", str(config), "--user", "carol"],
        home=tmp_path,
    )
    [deployed, waiting, cancelled] = said(out)
    assert deployed.startswith("Deploying backend v1.4.2 to staging ... ok in ")
    assert waiting.startswith(
        "backend v1.4.2 is not ready for production: in staging for under a minute of 1 h: "
        "ready at "
    ), out
    assert "Nothing was planned" not in waiting  # the wait says what happens next itself
    again = r" I will plan it again at \d\d:\d\d UTC \(\w{3} \d{1,2} \w{3}\); say 'cancel' to stop"
    assert re.search(again + r" waiting\.$", waiting), waiting
    assert cancelled == "Stopped waiting (cancelled by carol). Nothing was deployed."
    assert [c.split()[:4] for c in calls(tmp_path)] == [["deploy", "backend", "v1.4.2", "staging"]]


def test_a_freeze_stops_all_but_its_glass_breakers_and_rollbacks(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    opened, ends = now - timedelta(hours=1), now + timedelta(days=1)
    freeze = f"""
[[freezes]]
name = "drill"
environments = ["staging"]
from = "{opened:%Y-%m-%dT%H:%M}Z"
until = "{ends:%Y-%m-%dT%H:%M}Z"
reason = "release drill"
break_glass = ["alice"]
"""
    config = write_setup(tmp_path, tail=freeze)
    glass = "break glass hotfix for the login timeout"
    out = chat(
        [
            "deploy backend v1.4.1 to staging",
            f"deploy backend v1.4.1 to staging {glass}",
            "/as alice",
            f"deploy backend v1.4.1 to staging {glass}",
            f"deploy backend v1.4.2 to staging {glass}",
            "rollback backend in staging",
        ],
        args=["--config", str(config), "--user", "carol"],
        home=tmp_path,
    )
    lines = said(out)
    until = f"until {ends:%a} {ends.day} {ends:%b %H:%M} UTC"
    head = f"staging is frozen: release drill (freeze drill, {until}). Nothing was deployed."
    assert lines[0] == f"{head} alice may say 'deploy ... break glass <reason>'."
    assert lines[1] == f"{head} Only alice may break its glass, not carol."
    assert lines[2].startswith("Deploying backend v1.4.1 to staging ... ok in ")
    assert lines[3].startswith("Deploying backend v1.4.2 to staging ... ok in ")
    assert lines[4].startswith("Rolling back backend v1.4.1 to staging ... ok in ")
    assert [c.split()[:4] for c in calls(tmp_path)] == [
        ["deploy", "backend", "v1.4.1", "staging"],
        ["deploy", "backend", "v1.4.2", "staging"],
        ["rollback", "backend", "v1.4.1", "staging"],
    ]
