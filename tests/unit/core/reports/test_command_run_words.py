"""Sentences the command deployer and the account lookup wrote before they moved to
bot.core.reports.command_run, pinned exactly as people read them in a deploy's result."""

import pytest

from bot.core.reports.command_run import (
    cannot_run,
    exit_status_lost_note,
    leftovers_stopped_note,
    no_such_user_reason,
    timed_out_note,
)


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        (
            cannot_run("backend deploy", why="user 'deploy' does not exist on this machine"),
            "cannot run backend deploy: user 'deploy' does not exist on this machine",
        ),
        (
            cannot_run("./deploy.sh", why=FileNotFoundError(2, "No such file or directory")),
            "cannot run ./deploy.sh: [Errno 2] No such file or directory",
        ),
        (timed_out_note(timeout_s=600.0), "deploybot: timed out after 600 s; stopped"),
        (timed_out_note(timeout_s=0.5), "deploybot: timed out after 0.5 s; stopped"),
        (leftovers_stopped_note(), "deploybot: stopped processes left running by the command"),
        (
            exit_status_lost_note(),
            "deploybot: the command's exit status was lost; check the environment",
        ),
        (no_such_user_reason(name="deploy"), "user 'deploy' does not exist on this machine"),
    ],
)
def test_command_run_words(said: str, expected: str) -> None:
    assert said == expected
