"""Tags: the versions a service can be deployed at, read from its git repository.

``git ls-remote --tags`` works the same on a local path and on a URL and needs no clone.
Annotated tags are resolved to the commit they point at (the peeled ``^{}`` entry).

Ordering: tags that look like versions (``v1.4.2``, ``1.10.0``, ``v2.0.0-rc.1``, ``v3``)
come first, newest first, compared the semver way (``v1.10.0`` > ``v1.9.0``; a pre-release
sorts before its release). Other tags (``nightly``, ``release-2024-05-01``) are kept, after
all version tags, in reverse name order (so date-stamped names are newest first): they can
still be deployed by name, but "the latest tag" is always a version.

For a repository on a local path, each tag's commit subject is filled in with one
``git log --no-walk`` call; for a remote repository the subject stays ``None`` (that would
need a fetch). Subjects are outside text (``Tag.subject``, bot/core/thread/outside.py: cleaned and
capped). Tags whose names could not be asked for (``bot.core.thread.intents.VERSION_PATTERN``:
control, bidi or zero-width characters, look-alike digits, spaces) are left out: nobody
could type them, and they could pass for another version.

``lineage`` reads how a planned commit stands to the live one in a local repository (git
ancestry, whatever the tags are called): the fact planning decides "is it older than live"
and "is it built on live" on.
"""

import asyncio
import contextlib
import os
import re
import signal
from pathlib import Path

from bot.core.config.childenv import tool_env
from bot.core.errors import ToolFailed
from bot.core.reports import git_runs as git
from bot.core.reports import lineage as words
from bot.core.thread.intents import VERSION_PATTERN
from bot.core.thread.plan import Lineage, Tag, version_key
from bot.core.wording.redact import compact_tail, redact, strip_ansi

__all__ = ["lineage", "list_tags", "version_key"]


_TAG_PREFIX = "refs/tags/"
_PEELED = "^{}"
_ASKABLE = re.compile(VERSION_PATTERN)
_SHA = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")


def _is_local(repo: str) -> bool:
    return "://" not in repo and Path(repo).is_dir()


def _git_env() -> dict[str, str]:
    env = tool_env(os.environ)  # git runs as the bot's user: it gets none of the bot's secrets
    env["GIT_TERMINAL_PROMPT"] = "0"  # never wait for a password on a terminal
    env["GCM_INTERACTIVE"] = "never"
    env["LC_ALL"] = "C"  # error messages we can show as they are
    if "GIT_SSH_COMMAND" not in env and "GIT_SSH" not in env:
        env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes"
    return env


async def _git(args: list[str], *, what: str, timeout_s: float) -> str:
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


def _parse_ls_remote(text: str) -> dict[str, str]:
    """Tag name -> commit sha; the peeled entry of an annotated tag wins."""
    shas: dict[str, str] = {}
    peeled: dict[str, str] = {}
    for line in text.splitlines():
        sha, _, ref = line.partition("\t")
        if not ref.startswith(_TAG_PREFIX):
            continue
        name = ref.removeprefix(_TAG_PREFIX)
        if not _ASKABLE.fullmatch(name.removesuffix(_PEELED)):
            continue
        if name.endswith(_PEELED):
            peeled[name.removesuffix(_PEELED)] = sha
        else:
            shas[name] = sha
    return {name: peeled.get(name, sha) for name, sha in shas.items()}


async def _subjects(repo: str, shas: list[str], *, timeout_s: float) -> dict[str, str]:
    """Commit sha -> subject, in one ``git log`` call; empty when it fails (best effort)."""
    if not shas:
        return {}
    try:
        out = await _git(
            ["-C", repo, "log", "--no-walk=unsorted", "--format=%H%x00%s", *shas, "--"],
            what="git log",
            timeout_s=timeout_s,
        )
    except ToolFailed:
        return {}
    subjects: dict[str, str] = {}
    for line in out.splitlines():
        sha, sep, subject = line.partition("\x00")
        if sep:
            subjects[sha] = subject
    return subjects


async def list_tags(repo: str, *, limit: int = 20, timeout_s: float = 30) -> list[Tag]:
    """The newest ``limit`` tags of ``repo`` (a local path or a git URL), newest first.

    Raises ``ToolFailed`` (message safe to show: URL credentials are masked) when the
    repository is missing or unreachable, git fails, or it takes longer than ``timeout_s``.
    """
    shown = redact(repo, secrets=())
    if limit <= 0:
        return []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    out = await _git(
        ["ls-remote", "--tags", "--", repo],
        what=git.cannot_list_tags_what(repo=shown),
        timeout_s=timeout_s,
    )
    tags = _parse_ls_remote(out)
    names = sorted(tags, key=version_key, reverse=True)[:limit]
    subjects: dict[str, str] = {}
    if _is_local(repo):
        remaining_s = max(deadline - loop.time(), 1.0)
        wanted = list(dict.fromkeys(tags[name] for name in names))
        subjects = await _subjects(repo, wanted, timeout_s=remaining_s)
    return [Tag(name=name, sha=tags[name], subject=subjects.get(tags[name])) for name in names]


async def lineage(repo: str, *, planned: str, live: str, timeout_s: float = 10) -> Lineage:
    """How commit ``planned`` stands to commit ``live`` in the local repository ``repo``.

    One ``git rev-list --left-right --count planned...live``: the commits only in
    ``planned`` and only in ``live``. None only in ``live``: ``live`` is an ancestor of
    ``planned`` (what ``git merge-base --is-ancestor live planned`` answers), so it is
    built on what is live; none only in ``planned``: it is an ancestor of ``live`` (going
    backwards); both: diverged, and the count only in ``live`` is what it would drop.
    Never raises: what git cannot say is ``unknown`` with the reason.
    """
    if planned == live:
        return Lineage(relation="same")
    if not (_SHA.match(planned) and _SHA.match(live)):
        return Lineage(relation="unknown", why=words.not_full_sha_why())
    if not _is_local(repo):
        return Lineage(relation="unknown", why=words.not_on_this_machine_why())
    try:
        out = await _git(
            ["-C", repo, "rev-list", "--left-right", "--count", f"{planned}...{live}", "--"],
            what="git rev-list",
            timeout_s=timeout_s,
        )
        only_planned, only_live = (int(n) for n in out.split())
    except ToolFailed as exc:
        return Lineage(relation="unknown", why=str(exc))
    except ValueError:
        return Lineage(relation="unknown", why=words.git_answered_else_why())
    if only_live == 0:
        return Lineage(relation="ahead" if only_planned else "same")
    if only_planned == 0:
        return Lineage(relation="behind", missing=only_live)
    return Lineage(relation="diverged", missing=only_live)
