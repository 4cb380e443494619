"""Release policy in ``deploybot chat`` as a person runs it (issue 19): a subprocess fed lines
on a pipe (not a terminal), on the real clock, deploys counted in the deploy script's log.

Promotion order and soak (refused with the time it is ready, ``when ready`` planned once the
soak is over), ``skip soak`` only by the person the config names and never by a negated
phrasing, a freeze window around now refusing with its reason and end, and ``break glass`` by
the person it names shown on the card, approvals still needed."""

import queue
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.e2e.test_chat import chat
from tests.harness import bot_env
from tests.support import calls, write_setup

SOAK_S = 3  # the waiting test waits this long on the real clock
FREEZE_ZONE = "Europe/Berlin"


def release_setup(base: Path, *, soak_s: float) -> tuple[Path, datetime]:
    """write_setup's config plus: production requires staging and a soak (alice may skip
    it); qa (bob and dave approve) is frozen by a one-off window from an hour ago to an hour
    from now, written on Berlin's wall clock (alice may break its glass). Returns the config
    and the freeze's end."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    begins, ends = now - timedelta(hours=1), now + timedelta(hours=1)
    local = ZoneInfo(FREEZE_ZONE)
    production = f'requires = ["staging"]\nsoak_s = {soak_s}\nsoak_override_by = ["alice"]\n'
    tail = f"""
[environments.qa]
approval = true
approvers = ["bob", "dave"]

[[freezes]]
name = "audit"
environments = ["qa"]
from = "{begins.astimezone(local).replace(tzinfo=None).isoformat()}"
until = "{ends.astimezone(local).replace(tzinfo=None).isoformat()}"
timezone = "{FREEZE_ZONE}"
reason = "quarterly audit"
break_glass = ["alice"]
"""
    config = write_setup(base, production=production, tail=tail)
    text = config.read_text()
    both = 'environments = ["staging", "production"]\n'
    config.write_text(text.replace(both, 'environments = ["staging", "production", "qa"]\n', 1))
    return config, ends


def deployed(base: Path) -> list[list[str]]:
    return [line.split()[:4] for line in calls(base)]


def said(out: str) -> list[str]:
    return [line.removeprefix("bot> ") for line in out.splitlines() if line.startswith("bot> ")]


class LiveChat:
    """``deploybot chat`` whose standard input (a pipe, not a terminal) is written a line at
    a time, so real time can pass between lines; what it prints is read as it comes."""

    def __init__(self, home: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "chat", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=(home / "chat.err").open("wb"),
            env=bot_env({"DEPLOYBOT_HOME": str(home), "DEPLOYBOT_DEMO_SLEEP_S": "0.2"}),
            cwd=home,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.put(raw.decode(errors="replace").rstrip("\n"))
        self.lines.put(None)

    def say(self, *lines: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("".join(f"{line}\n" for line in lines).encode())
        self.proc.stdin.flush()

    def until(self, part: str, *, timeout_s: float = 30) -> str:
        """Read on until a line holds ``part``; returns that line."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                seen = "\n".join(self.seen)
                raise AssertionError(f"no {part!r} in {timeout_s} s:\n{seen}") from None
            assert line is not None, f"chat exited before {part!r}:\n" + "\n".join(self.seen)
            self.seen.append(line)
            if part in line:
                return line

    def close(self) -> str:
        """End of input: chat exits (0); everything it printed."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            assert self.proc.wait(timeout=60) == 0
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        while (line := self.lines.get(timeout=10)) is not None:
            self.seen.append(line)
        return "\n".join(self.seen)


def test_production_waits_for_staging_and_its_soak_then_runs_when_ready(tmp_path: Path) -> None:
    config, _ = release_setup(tmp_path, soak_s=SOAK_S)
    session = LiveChat(tmp_path, "--config", str(config), "--user", "carol")
    try:
        session.say("deploy backend v1.4.2 to production")
        refused = session.until("bot> ")
        assert refused == (
            "bot> backend v1.4.2 is not ready for production: not deployed to staging. "
            "Nothing was planned. It goes to production once it is live and healthy in staging."
        )
        asked = datetime.now(UTC)
        session.say("/new", "deploy backend v1.4.2 to staging")
        session.until("bot> Deploying backend v1.4.2 to staging ... ok in ")
        staged = datetime.now(UTC)  # the soak counts from the deploy's end, before this
        session.say("/new", "deploy backend v1.4.2 to production")
        soaking = session.until("bot> ")
        ready = {f"{t + timedelta(seconds=SOAK_S):%H:%M} UTC" for t in (asked, staged)}
        assert soaking.startswith(
            "bot> backend v1.4.2 is not ready for production: in staging for under a minute "
            "of under a minute: ready at "
        ), soaking
        assert soaking.split("ready at ")[1].split(".")[0] in ready
        assert "alice may say 'deploy backend v1.4.2 to production skip soak <reason>'" in soaking
        assert deployed(tmp_path) == [["deploy", "backend", "v1.4.2", "staging"]]

        session.say("deploy backend v1.4.2 to production when ready")
        waiting = session.until("bot> ")
        assert waiting.startswith(soaking.split("ready at ")[0]), waiting
        assert waiting.split("I will plan it again at ")[1].split(" (")[0] in ready
        assert waiting.endswith("say 'cancel' to stop waiting."), waiting
        wait_s = (staged + timedelta(seconds=SOAK_S + 0.3) - datetime.now(UTC)).total_seconds()
        time.sleep(max(0.0, wait_s))  # the soak is over; the next line's turn fires its timer
        session.say("status")
        card = session.until("bot> Plan #")
        assert card.endswith(', "fix login timeout") -> production (first deploy).'), card
        assert session.until("Release: ") == "     Release: deployed to staging under a minute ago."
        session.until("Reply 'approve' or 'reject <reason>'.")
        session.say("/as bob", "approve")
        session.until("bot> Deploying backend v1.4.2 to production ... ok in ")
    finally:
        out = session.close()
    assert "SKIP SOAK" not in out
    assert out.count("bot> Plan #") == 1
    assert deployed(tmp_path) == [
        ["deploy", "backend", "v1.4.2", "staging"],
        ["deploy", "backend", "v1.4.2", "production"],
    ]


def test_only_the_named_person_skips_soak_and_no_negation_does(tmp_path: Path) -> None:
    config, _ = release_setup(tmp_path, soak_s=3600)  # an hour: still soaking throughout
    negated = [
        "deploy backend v1.4.2 to production don't skip soak",
        "deploy backend v1.4.2 to production skip soak if needed",
        "deploy backend v1.4.2 to production skip soak not needed",
    ]
    out = chat(
        [
            "deploy backend v1.4.2 to staging",
            "/new",
            "deploy backend v1.4.2 to production skip soak hotfix",  # carol: not named
            *(line for text in negated for line in ("/new", "/as alice", text)),
            "/new",
            "deploy backend v1.4.2 to production skip soak INC-7 login fix",
            "/as bob",
            "approve",
        ],
        args=["--config", str(config), "--user", "carol"],
        home=tmp_path,
    )
    replies = said(out)
    carol = next(s for s in replies if s.startswith("Only alice may skip"))
    assert carol.startswith(
        "Only alice may skip the soak for production. backend v1.4.2 is not ready for "
        "production: in staging for under a minute of 1 h: ready at "
    ), carol
    for text in negated:  # no exact command: without a model, the bot says what it reads
        reply = out.split(f"alice> {text}\n", 1)[1].splitlines()[0]
        assert reply.startswith("bot> I can only follow exact commands right now"), reply
    assert out.count("bot> Plan #") == 1  # only alice's own, exact 'skip soak <reason>'
    card = out.split("bot> Plan #", 1)[1].split("bob> approve")[0]
    assert "     Asked by alice; live now: nothing (first deploy)." in card
    assert (
        "     SKIP SOAK (before its soak in the environments before this one ended), "
        "by alice: INC-7 login fix"
    ) in card
    assert "production needs 1 approval from: bob, dave (not alice)." in card
    assert replies[-1].startswith("Deploying backend v1.4.2 to production ... ok in ")
    assert deployed(tmp_path) == [
        ["deploy", "backend", "v1.4.2", "staging"],
        ["deploy", "backend", "v1.4.2", "production"],
    ]


def test_a_freeze_refuses_with_its_reason_and_break_glass_goes_on_the_card(
    tmp_path: Path,
) -> None:
    config, ends = release_setup(tmp_path, soak_s=SOAK_S)
    out = chat(
        [
            "help",
            "deploy backend v1.4.2 to qa",
            "/new",
            "deploy backend v1.4.2 to qa break glass INC-9 payments down",  # carol: not named
            "/new",
            "/as alice",
            "deploy backend v1.4.2 to qa break glass if it is bad",
            "/new",
            "deploy backend v1.4.2 to qa break glass INC-9 payments down",
            "/as bob",
            "approve",
        ],
        args=["--config", str(config), "--user", "carol"],
        home=tmp_path,
    )
    lines = out.splitlines()
    for form in (
        "deploy ... when ready",
        "deploy ... skip soak <reason> | deploy ... break glass <reason>",
        "cancel [plan id]",
    ):
        assert any(line.startswith(f"       {form}") for line in lines), form
    replies = said(out)
    local = ends.astimezone(ZoneInfo(FREEZE_ZONE))
    until = f"until {ends:%a} {ends.day} {ends:%b %H:%M} UTC, "
    frozen = [s for s in replies if s.startswith("qa is frozen: quarterly audit (freeze audit, ")]
    assert len(frozen) == 2, out
    for refusal in frozen:
        assert until in refusal
        assert f"{local:%H:%M} {FREEZE_ZONE}). Nothing was deployed." in refusal
    assert frozen[0].endswith("alice may say 'deploy ... break glass <reason>'.")
    assert frozen[1].endswith("Only alice may break its glass, not carol.")
    hedged = out.split("alice> deploy backend v1.4.2 to qa break glass if it is bad\n")[1]
    assert hedged.startswith("bot> I can only follow exact commands right now")
    assert out.count("bot> Plan #") == 1
    card = out.split("bot> Plan #", 1)[1].split("bob> approve")[0]
    assert "-> qa (first deploy)." in card.splitlines()[0]
    assert "     BREAK GLASS (deploys during a freeze), by alice: INC-9 payments down" in card
    assert "qa needs 1 approval from: bob, dave (not alice)." in card  # approvals still apply
    assert replies[-1].startswith("Deploying backend v1.4.2 to qa ... ok in ")
    assert deployed(tmp_path) == [["deploy", "backend", "v1.4.2", "qa"]]


# -- FAILING on main: product bugs found here, reported (not fixed in bot/) ------------------


def test_status_of_a_waiting_thread_says_queued(tmp_path: Path) -> None:
    """BUG: 'status' always says "running": bot/core/loop/requests.py answers with
    status_text(thread) on the thread that already holds the 'status' message itself, which
    derive_status counts as an unanswered request. A 'when ready' wait is 'queued'
    (DESIGN.md), so is an approval wait 'awaiting approval'."""
    config, _ = release_setup(tmp_path, soak_s=3600)
    out = chat(
        [
            "deploy backend v1.4.2 to staging",
            "/new",
            "deploy backend v1.4.2 to production when ready",
            "status",
        ],
        args=["--config", str(config), "--user", "carol"],
        home=tmp_path,
    )
    [status] = [s for s in said(out) if s.startswith("Thread ")]
    assert status.split(": ", 1)[1].startswith("queued."), status
