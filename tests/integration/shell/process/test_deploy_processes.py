"""Hostile or sloppy deploy commands (issue 10.7): whatever they start is stopped, and
however much they print, the worker keeps only a bounded, redacted tail."""

import time
from pathlib import Path

import pytest

from bot.core.wording.redact import MASK
from bot.shell.process.command_deployer import CommandDeployer
from bot.shell.process.outputtail import OutputTail
from tests.integration.shell.process.test_deployer import (
    DEFAULT_ARGV,
    PLAN,
    alive,
    config,
    script,
    wait_dead,
)

# Ignores SIGTERM and starts a grandchild in a new session (setsid) that ignores it too.
HOSTILE_SH = """#!/bin/sh
trap '' TERM
here="$(dirname "$0")"
echo $$ > "$here/cmd.pid"
setsid sh -c 'trap "" TERM; cut -d" " -f6 /proc/$$/stat > "$1/grandchild.sid"
    echo $$ > "$1/grandchild.pid"; exec sleep 60' sh "$here" \\
    > /dev/null 2>&1 &
while [ ! -s "$here/grandchild.pid" ]; do sleep 0.01; done
echo started
{end}
"""


def pids(base: Path) -> tuple[int, int]:
    folder = base / "scripts"
    return int((folder / "cmd.pid").read_text()), int((folder / "grandchild.pid").read_text())


def session_of(base: Path) -> int:
    """The session the grandchild found itself in (field 6 of its /proc/PID/stat)."""
    return int((base / "scripts" / "grandchild.sid").read_text())


async def test_timeout_stops_a_term_ignoring_command_and_its_setsid_grandchild(
    tmp_path: Path,
) -> None:
    script(tmp_path, "deploy.sh", HOSTILE_SH.format(end="sleep 60"))
    cfg = config(tmp_path, deploy=DEFAULT_ARGV, timeout_s=1)
    deployer = CommandDeployer(run_as_root=True, config=cfg, secrets=[], grace_s=0.3)

    result = await deployer.run(plan=PLAN, idempotency_key="k", fencing_token=1)

    command, grandchild = pids(tmp_path)
    assert session_of(tmp_path) == grandchild  # it really left the command's session
    assert (result.result, result.exit_code) == ("timed_out", -9)
    assert result.output_tail.splitlines() == ["started", "deploybot: timed out after 1 s; stopped"]
    assert await wait_dead(command, within_s=0.5)
    assert await wait_dead(grandchild, within_s=0.5), "the setsid grandchild outlived the deploy"


async def test_a_setsid_grandchild_left_behind_after_exit_is_stopped(tmp_path: Path) -> None:
    script(tmp_path, "deploy.sh", HOSTILE_SH.format(end="exit 0"))
    deployer = CommandDeployer(
        run_as_root=True, config=config(tmp_path, deploy=DEFAULT_ARGV), secrets=[], grace_s=0.2
    )

    result = await deployer.run(plan=PLAN, idempotency_key="k", fencing_token=1)

    _, grandchild = pids(tmp_path)
    assert (result.result, result.exit_code) == ("succeeded", 0)
    assert result.output_tail.splitlines() == [
        "started",
        "deploybot: stopped processes left running by the command",
    ]
    assert not alive(grandchild)


SECRET = "vault-passphrase-123"
# 50 MB of output, then lines whose secrets straddle the 200-character cut of the tail.
LOUD_SH = f"""#!/bin/sh
yes 'building layer 42: ok token=abc123abc123 done' | head -n 1100000
printf '%0195d{SECRET} tail\\n' 0
echo "last line, password=hunter2hunter2"
"""


async def test_50_mb_of_output_costs_little_cpu_and_keeps_a_redacted_tail(
    tmp_path: Path,
) -> None:
    script(tmp_path, "deploy.sh", LOUD_SH)
    deployer = CommandDeployer(
        run_as_root=True, config=config(tmp_path, deploy=DEFAULT_ARGV), secrets=[SECRET]
    )
    seen: list[str] = []

    async def on_output(line: str) -> None:
        seen.append(line)

    cpu_before_s = time.process_time()
    result = await deployer.run(
        plan=PLAN, idempotency_key="k", fencing_token=1, on_output=on_output
    )
    cpu_s = time.process_time() - cpu_before_s

    assert result.result == "succeeded"
    assert cpu_s < 3, f"the worker spent {cpu_s:.2f} s of CPU on 50 MB of output"
    lines = result.output_tail.splitlines()
    assert lines[-1] == f"last line, password={MASK}"
    assert lines[-2] == "0" * 195 + MASK[:4] + "…"  # redacted before it was cut
    assert lines[-3] == f"building layer 42: ok token={MASK} done"
    assert "vaul" not in result.output_tail
    assert "abc123" not in result.output_tail
    assert seen[-1] == f"last line, password={MASK}"
    assert not [line for line in seen if "abc123" in line or "hunter2" in line]


@pytest.mark.parametrize(
    ("chunks", "text", "last"),
    [
        ([b"a\n", b"b\n"], "a\nb\n", "b"),
        ([b"one\ntw", b"o\n  \n"], "one\ntwo\n  \n", "two"),  # blank lines are skipped
        ([b"no newline yet"], "no newline yet", None),
        # trimmed: the first, partial line is dropped, so a cut secret is never shown
        ([b"x" * 10 + b"password=secret\n", b"kept\n" * 4], "kept\n" * 3, "kept"),
        ([b"y" * 50], "", None),  # one giant line, trimmed: its start is dropped
    ],
)
def test_output_tail_keeps_whole_lines_of_the_end(
    chunks: list[bytes], text: str, last: str | None
) -> None:
    tail = OutputTail(keep_bytes=20)
    for chunk in chunks:
        tail.feed(chunk)

    assert tail.text() == text
    assert tail.last_line() == last
    assert tail.total_bytes == sum(len(chunk) for chunk in chunks)
