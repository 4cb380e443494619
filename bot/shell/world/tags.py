"""Tags: the versions a service can be deployed at, read from its git repository.

A repository on a local path is read in-process (``gitrepo``: its refs as they are now, no
``git`` process); one on a URL, or a local one libgit2 cannot open, by ``git ls-remote
--tags``, which works the same on a local path and on a URL and needs no clone. Annotated
tags are resolved to the object they point at (the peeled ``^{}`` entry: a commit, or for an
odd tag a tree or blob, listed without a subject).

Ordering: tags that look like versions (``v1.4.2``, ``1.10.0``, ``v2.0.0-rc.1``, ``v3``)
come first, newest first, compared the semver way (``v1.10.0`` > ``v1.9.0``; a pre-release
sorts before its release). Other tags (``nightly``, ``release-2024-05-01``) are kept, after
all version tags, in reverse name order (so date-stamped names are newest first): they can
still be deployed by name, but "the latest tag" is always a version.

For a repository on a local path, each tag's commit subject is filled in (in-process, or
with one ``git log --no-walk`` call); for a remote repository the subject stays ``None``
(that would need a fetch). Subjects are outside text (``Tag.subject``,
bot/core/thread/text/outside.py: cleaned and capped). Tags whose names could not be asked for
(``bot.core.thread.intents.VERSION_PATTERN``: control, bidi or zero-width characters,
look-alike digits, spaces) are left out: nobody could type them, and they could pass for
another version.

``lineage`` reads how a planned commit stands to the live one in a local repository (git
ancestry, whatever the tags are called): the fact planning decides "is it older than live"
and "is it built on live" on.
"""

import asyncio
import re

from bot.core.errors import ToolFailed
from bot.core.reports import git_runs as git
from bot.core.reports import lineage as words
from bot.core.thread.intents import VERSION_PATTERN
from bot.core.thread.plan import Lineage, Tag, version_key
from bot.core.wording.redact import redact
from bot.shell.world import gitrepo
from bot.shell.world.gitcache import is_full_sha
from bot.shell.world.gitcli import run_git as _git

__all__ = ["lineage", "list_tags", "version_key"]


_TAG_PREFIX = "refs/tags/"
_PEELED = "^{}"
_ASKABLE = re.compile(VERSION_PATTERN)


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


def _newest(tags: dict[str, str], limit: int) -> list[str]:
    """The names shown: askable ones only, newest first, at most ``limit``."""
    askable = [name for name in tags if _ASKABLE.fullmatch(name)]
    return sorted(askable, key=version_key, reverse=True)[:limit]


async def list_tags(repo: str, *, limit: int = 20, timeout_s: float = 30) -> list[Tag]:
    """The newest ``limit`` tags of ``repo`` (a local path or a git URL), newest first.

    Raises ``ToolFailed`` (message safe to show: URL credentials are masked) when the
    repository is missing or unreachable, git fails, or it takes longer than ``timeout_s``.
    """
    shown = redact(repo, secrets=())
    if limit <= 0:
        return []
    what = git.cannot_list_tags_what(repo=shown)
    local = gitrepo.is_local(repo)
    if local:
        found = await gitrepo.read_tags(
            repo, select=lambda tags: _newest(tags, limit), what=what, timeout_s=timeout_s
        )
        if found is not None:
            return [Tag(name=name, sha=ref.sha, subject=ref.subject) for name, ref in found]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    out = await _git(["ls-remote", "--tags", "--", repo], what=what, timeout_s=timeout_s)
    tags = _parse_ls_remote(out)
    names = _newest(tags, limit)
    subjects: dict[str, str] = {}
    if local:
        remaining_s = max(deadline - loop.time(), 1.0)
        wanted = list(dict.fromkeys(tags[name] for name in names))
        subjects = await _subjects(repo, wanted, timeout_s=remaining_s)
    return [Tag(name=name, sha=tags[name], subject=subjects.get(tags[name])) for name in names]


async def lineage(repo: str, *, planned: str, live: str, timeout_s: float = 10) -> Lineage:
    """How commit ``planned`` stands to commit ``live`` in the local repository ``repo``.

    The commits only in ``planned`` and only in ``live`` (what ``git rev-list --left-right
    --count planned...live`` counts), read in-process (``gitrepo``, kept once known: two
    full shas), else by that git command. None only in ``live``: ``live`` is an ancestor of
    ``planned`` (what ``git merge-base --is-ancestor live planned`` answers), so it is
    built on what is live; none only in ``planned``: it is an ancestor of ``live`` (going
    backwards); both: diverged, and the count only in ``live`` is what it would drop.
    Never raises: what git cannot say is ``unknown`` with the reason.
    """
    if planned == live:
        return Lineage(relation="same")
    if not (is_full_sha(planned) and is_full_sha(live)):
        return Lineage(relation="unknown", why=words.not_full_sha_why())
    if not gitrepo.is_local(repo):
        return Lineage(relation="unknown", why=words.not_on_this_machine_why())
    try:
        found = await gitrepo.ahead_behind(repo, planned=planned, live=live, timeout_s=timeout_s)
        if found is None:  # libgit2 cannot open it: ask git
            out = await _git(
                ["-C", repo, "rev-list", "--left-right", "--count", f"{planned}...{live}", "--"],
                what="git rev-list",
                timeout_s=timeout_s,
            )
            left, right = out.split()
            found = int(left), int(right)
        only_planned, only_live = found
    except ToolFailed as exc:
        return Lineage(relation="unknown", why=str(exc))
    except ValueError:
        return Lineage(relation="unknown", why=words.git_answered_else_why())
    if only_live == 0:
        return Lineage(relation="ahead" if only_planned else "same")
    if only_planned == 0:
        return Lineage(relation="behind", missing=only_live)
    return Lineage(relation="diverged", missing=only_live)
