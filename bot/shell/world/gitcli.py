"""git as a process: what reads a remote repository (``git ls-remote`` on a URL) and what
reads a local one the in-process reader (``gitrepo``) cannot open.

Protocol: ``run_git(args, what=, timeout_s=)`` runs ``git <args>`` with the environment of
one of the bot's tools (``tool_env``: none of the bot's secrets), no terminal prompt,
``LC_ALL=C`` (messages we can show as they are) and ssh in batch mode, and returns its
stdout. ``range_by_git`` is the evidence's commit range in two such runs (``git log`` and
``git rev-list --count``), awaited to the end together.

Failures, each a ``ToolFailed`` whose reason is short and redacted (bot.core.reports.git_runs):
git cannot be started (``cannot run git``); it does not finish within ``timeout_s`` (it is
killed with its process group: ssh and helpers too); it exits non-zero (the first useful
line of its stderr, else its exit code). A caller's cancellation kills and reaps git too.
"""

import asyncio
import contextlib
import os
import signal

from bot.core.config.childenv import tool_env
from bot.core.errors import ToolFailed
from bot.core.reports import git_runs as git
from bot.core.wording.redact import compact_tail, redact, strip_ansi
from bot.shell.world.gitrepo import CommitLine, CommitRange

__all__ = ["range_by_git", "run_git"]


def _git_env() -> dict[str, str]:
    env = tool_env(os.environ)  # git runs as the bot's user: it gets none of the bot's secrets
    env["GIT_TERMINAL_PROMPT"] = "0"  # never wait for a password on a terminal
    env["GCM_INTERACTIVE"] = "never"
    env["LC_ALL"] = "C"  # error messages we can show as they are
    if "GIT_SSH_COMMAND" not in env and "GIT_SSH" not in env:
        env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes"
    return env


async def run_git(args: list[str], *, what: str, timeout_s: float) -> str:
    """Run ``git <args>``; its stdout, or ``ToolFailed`` with a short, redacted reason."""
    try:
        proc = await asyncio.create_subprocess_exec(
            "git",
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=_git_env(),
            start_new_session=True,  # so a timeout can stop git and its helpers (ssh)
        )
    except OSError as exc:
        raise ToolFailed(git.cannot_run_text(what=what, error=f"{exc.strerror or exc}")) from exc
    try:
        async with asyncio.timeout(timeout_s):
            out, err = await proc.communicate()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        raise ToolFailed(git.timed_out_text(what=what, timeout_s=timeout_s)) from None
    except BaseException:  # cancelled (a caller's deadline): stop git, and reap it
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        raise
    if proc.returncode != 0:
        reason = _reason(err.decode(errors="replace")) or git.exit_code_reason(code=proc.returncode)
        raise ToolFailed(git.failed_text(what=what, reason=reason))
    return out.decode(errors="replace")


def _reason(stderr: str) -> str:
    """The one line of git's stderr that says what went wrong, redacted and short."""
    lines = [line.strip() for line in strip_ansi(stderr).splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(("warning: ", "hint: "))]
    first = (useful or lines or [""])[0]  # the first complaint says why (ssh:, fatal:)
    first = first.removeprefix("fatal: ").removeprefix("error: ")
    return compact_tail(redact(first, secrets=()), max_lines=1, max_chars=200)


async def range_by_git(
    repo: str, *, head: str, base: str | None, shown: int, cap: int, timeout_s: float
) -> CommitRange:
    """The newest ``shown`` commits of ``head ^base`` and their count (no ``base``: counted
    up to ``cap + 1``), by ``git log`` and ``git rev-list --count``; ``ToolFailed``."""
    revs = [head, f"^{base}"] if base else [head]
    log_args = ["-C", repo, "log", f"-n{shown}", "--format=%H%x00%an%x00%s", *revs]
    count_args = ["-C", repo, "rev-list", "--count", *revs]
    if base is None:
        count_args.insert(3, f"--max-count={cap + 1}")
    # Both are awaited to the end even when one fails, so no git is left running.
    out, count = await asyncio.gather(
        run_git([*log_args, "--"], what="git log", timeout_s=timeout_s),
        run_git([*count_args, "--"], what="git rev-list", timeout_s=timeout_s),
        return_exceptions=True,
    )
    for failed in (out, count):
        if isinstance(failed, BaseException):
            raise failed
    assert isinstance(out, str)
    assert isinstance(count, str)
    commits = []
    for line in out.splitlines():
        sha, author, subject = [*line.split("\x00", 2), "", ""][:3]
        if sha:
            commits.append(CommitLine(sha=sha, author=author, subject=subject))
    return CommitRange(commits=tuple(commits), total=int(count.strip() or 0))
