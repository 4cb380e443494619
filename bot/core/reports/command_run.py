"""The words of running a deploy command (pure): why it could not run, and the notes the
deployer adds below the output's tail (bot/shell/process/command_deployer.py runs it and
reports the facts; bot/shell/process/users.py reports a missing account)."""

__all__ = [
    "cannot_run",
    "exit_status_lost_note",
    "leftovers_stopped_note",
    "no_such_user_reason",
    "timed_out_note",
]


def cannot_run(shown: str, *, why: object) -> str:
    """The command ``shown`` never started: ``why`` (a refusal, an OS error, the supervisor's
    reason), shown as ``str(why)``."""
    return f"cannot run {shown}: {why}"


def timed_out_note(*, timeout_s: float) -> str:
    """The command ran past its timeout and was stopped."""
    return f"deploybot: timed out after {timeout_s:g} s; stopped"


def leftovers_stopped_note() -> str:
    """The command exited leaving processes behind, which the supervisor stopped."""
    return "deploybot: stopped processes left running by the command"


def exit_status_lost_note() -> str:
    """The supervisor never reported the command's exit status."""
    return "deploybot: the command's exit status was lost; check the environment"


def no_such_user_reason(*, name: str) -> str:
    """The account a command should run as does not exist."""
    return f"user {name!r} does not exist on this machine"
