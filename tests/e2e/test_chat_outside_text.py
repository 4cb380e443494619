"""Outside text through ``deploybot chat`` (issue 15.2), the real entry point: a real git
repository whose tag's commit subject draws a forged plan line (``ESC[2K ESC[1G``) and hides
the rest (``ESC[8m``), tags whose names pass for other versions (a zero-width space, full-width
digits), and a deploy script whose output does the same. The bytes the terminal gets hold no
escape or bidi character, the real plan line is whole, and the approval deploys exactly the
version shown, once (counted in the deploy script's call log)."""

import re
import shutil
import unicodedata
from pathlib import Path

from tests.harness import chat as run_chat
from tests.harness import executable
from tests.support import add_tag, calls, make_repo, write_setup

FORGED = (
    "fix login timeout\x1b[2K\x1b[1Gbot> Plan #e6da: backend v1.0.1 (1a2b3c4) -> production "
    "(first deploy).\x1b[8m and \u202enoitcudorp\u202c"
)
# The deploy script's last line tries the same on the result line.
HOSTILE_SCRIPT = r"""#!/bin/sh
here="$(dirname "$0")"
printf 'deploy %s %s %s %s\n' "$1" "$2" "$3" "$DEPLOYBOT_IDEMPOTENCY_KEY" >> "$here/calls.log"
printf '%s %s is live\n' "$1" "$2"
printf '\033[1A\033[2K\033]0;pwned\007\302\2332Kbot> Deploying backend v1.0.1 ... ok'
printf '\342\200\256\033[8m\n'
"""
PLAN_LINE = re.compile(
    r'bot> Plan #[0-9a-f]{4}: backend v1\.4\.2 \([0-9a-f]{7}, "fix login timeoutbot> Plan #e6da: '
    r'backend v1\.0\.1 \(1a2b3c4\) -> production \(first deploy\)\. and noitcudorp"\) -> '
    r"production \(first deploy\)\."
)


def setup(base: Path) -> Path:
    config = write_setup(base)
    repo = base / "repos" / "backend"
    shutil.rmtree(repo)
    make_repo(repo, [("v1.4.0", "add order search"), ("v1.4.1", "speed up"), ("v1.4.2", FORGED)])
    # Two more commits, tagged with names that look like newer versions.
    for tag in ("v1.4.3\u200b", "v\uff11.\uff15.\uff10"):  # zero-width space; full-width 1.5.0
        add_tag(repo, tag, f"sneaky {tag}", annotated=False)
    executable(base / "scripts" / "deploy.sh", HOSTILE_SCRIPT)
    return config


def chat(lines: list[str], *, config: Path, home: Path) -> bytes:
    """What the terminal gets, which holds no character a terminal acts on."""
    done = run_chat(lines, home=home, args=["--config", str(config), "--user", "carol"])
    for stream in (done.stdout, done.stderr):
        text = stream.decode()  # valid UTF-8
        acted_on = [
            ch
            for ch in text
            if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp")
        ]
        assert acted_on == [], acted_on[:5]
    return done.stdout


def test_a_hostile_subject_cannot_forge_the_plan_being_approved(tmp_path: Path) -> None:
    config = setup(tmp_path)
    out = chat(
        ["deploy backend to production", "/as alice", "approve"], config=config, home=tmp_path
    ).decode()
    lines = out.splitlines()
    assert b"\x1b" not in out.encode()
    plan = next(line for line in lines if line.startswith("bot> Plan #"))
    assert PLAN_LINE.fullmatch(plan), plan
    # Only the bot starts lines: the forged "bot> ..." never stands on a line of its own.
    assert [line for line in lines if line.startswith("bot> ")] == [plan, lines[-1]]
    result = lines[-1]
    assert result.startswith("bot> Deploying backend v1.4.2 to production ... ok in "), result
    assert result.endswith(' s. Last output: "bot> Deploying backend v1.0.1 ... ok".'), result
    # The approval deployed the version on the plan line, once; the look-alike tags not at all.
    assert [c.split()[:4] for c in calls(tmp_path)] == [
        ["deploy", "backend", "v1.4.2", "production"]
    ]


def test_look_alike_tags_are_never_deployed(tmp_path: Path) -> None:
    config = setup(tmp_path)
    out = chat(
        [
            "deploy backend v\uff11.\uff15.\uff10 to production",
            "deploy backend v1.4.3\u200b to production",
            "/as alice",
            "approve",
        ],
        config=config,
        home=tmp_path,
    ).decode()
    assert "bot> Plan #" not in out, out
    assert "\u200b" not in out  # not even in the echo of what was typed
    assert calls(tmp_path) == []
