"""The in-process reader (bot/shell/world/gitrepo.py) against real repositories made with
``git``: it answers what git answers (tags peeled like ``git ls-remote``, subjects like
``git log --format=%s``, ranges like ``git rev-list --count``), sees a moved or deleted tag
at once, and fails like git did: a corrupt object, a missing revision, a walk over its
deadline."""

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from bot.core.errors import ToolFailed
from bot.core.thread.plan import Lineage
from bot.shell.world import gitrepo
from bot.shell.world.gitcache import PEELED, RANGES
from bot.shell.world.gitcli import range_by_git
from bot.shell.world.tags import _parse_ls_remote, lineage, list_tags
from tests.support import GIT_ENV

ENV = {**GIT_ENV, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], env=ENV, check=True, capture_output=True, input=stdin
    )
    return done.stdout.decode(errors="replace").strip()


def commit(repo: Path, message: str) -> str:
    git(repo, "commit", "-q", "--allow-empty", "--cleanup=verbatim", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    RANGES.clear()
    PEELED.clear()
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    return path


def long_history(path: Path, commits: int) -> None:
    """``commits`` commits on main (fast-import: a second, not minutes), tagged ``v0.0.1``
    at the first and ``v0.0.2`` at the last."""
    lines = []
    for n in range(1, commits + 1):
        msg = f"change {n}\n"
        lines += [f"commit refs/heads/main\nmark :{n}",
                  f"committer T <t@example.invalid> {1_700_000_000 + n} +0000",
                  f"data {len(msg)}\n{msg}"]  # fmt: skip
        lines += [f"from :{n - 1}"] if n > 1 else []
    lines += ["reset refs/tags/v0.0.1\nfrom :1\n", f"reset refs/tags/v0.0.2\nfrom :{commits}\n"]
    git(path, "fast-import", "--quiet", stdin=("\n".join(lines) + "\n").encode())


async def test_tags_peel_like_ls_remote_and_subjects_read_like_git_log(repo: Path) -> None:
    first = commit(repo, "first commit")
    git(repo, "tag", "v1.0.0")  # lightweight
    second = commit(repo, "fix login\ntimeout in two lines\n\nbody text")
    git(repo, "tag", "-a", "v1.1.0", "-m", "release 1.1.0")  # annotated
    git(repo, "tag", "-a", "v1.1.1", "-m", "a tag of a tag", "v1.1.0")  # peels twice
    git(repo, "tag", "v9.9.9\u200b")  # not askable (zero-width space): left out, as today
    tree = git(repo, "rev-parse", "HEAD^{tree}")
    git(repo, "tag", "-a", "v0.0.1-tree", "-m", "a tag on a tree", tree)

    tags = await list_tags(str(repo))

    assert [(t.name, t.sha, t.subject) for t in tags] == [
        ("v1.1.1", second, "fix login timeout in two lines"),
        ("v1.1.0", second, "fix login timeout in two lines"),
        ("v1.0.0", first, "first commit"),
        ("v0.0.1-tree", tree, None),  # listed as ls-remote peels it, without a subject
    ]
    assert git(repo, "log", "-1", "--format=%s", second) == "fix login timeout in two lines"
    by_git = _parse_ls_remote(git(repo, "ls-remote", "--tags", "."))
    assert {t.name: t.sha for t in tags} == by_git
    # Read again: the names are read again, what their objects peel to is known already.
    misses = PEELED.misses
    assert await list_tags(str(repo)) == tags
    assert PEELED.misses == misses


async def test_a_subject_with_terminal_escapes_is_cleaned(repo: Path) -> None:
    commit(repo, "deploy \x1b[31mred\x1b[0m \x1b]0;title\x07done\r\n")
    git(repo, "tag", "v1.0.0")
    (tag,) = await list_tags(str(repo))
    assert tag.subject is not None
    assert "\x1b" not in tag.subject
    assert "\x07" not in tag.subject
    assert "red" in tag.subject


async def test_a_moved_and_a_deleted_tag_are_seen_by_the_next_read(repo: Path) -> None:
    old = commit(repo, "old")
    git(repo, "tag", "v1.0.0")
    git(repo, "tag", "v0.9.0")
    assert {t.name: t.sha for t in await list_tags(str(repo))} == {"v1.0.0": old, "v0.9.0": old}
    new = commit(repo, "new")
    git(repo, "tag", "-f", "v1.0.0", new)
    git(repo, "tag", "-d", "v0.9.0")
    assert {t.name: t.sha for t in await list_tags(str(repo))} == {"v1.0.0": new}
    git(repo, "pack-refs", "--all")  # packed refs read the same
    git(repo, "tag", "-f", "-a", "v1.0.0", "-m", "back", old)
    assert [(t.name, t.sha) for t in await list_tags(str(repo))] == [("v1.0.0", old)]


async def test_ranges_match_git_and_refs_are_never_kept(repo: Path) -> None:
    shas = [commit(repo, f"c{n}") for n in range(8)]
    git(repo, "tag", "v1.0.0", shas[2])
    for head, base in ((shas[7], shas[2]), (shas[4], None), (shas[7], "refs/tags/v1.0.0")):
        ours = await gitrepo.commit_range(
            str(repo), head=head, base=base, shown=3, cap=100, timeout_s=10
        )
        theirs = await range_by_git(str(repo), head=head, base=base, shown=3, cap=100, timeout_s=10)
        assert ours == theirs
    assert ours is not None
    assert (ours.total, [c.subject for c in ours.commits]) == (5, ["c7", "c6", "c5"])
    assert len(RANGES) == 2  # the two ranges between shas; the one from a tag name is not kept


async def test_a_first_deploy_of_a_long_history_is_counted_only_to_the_cap(repo: Path) -> None:
    long_history(repo, 3000)
    head = git(repo, "rev-parse", "v0.0.2")
    capped = await gitrepo.commit_range(
        str(repo), head=head, base=None, shown=5, cap=1000, timeout_s=30
    )
    assert capped is not None
    assert capped.total == 1001  # one past the cap: "more than 1000"
    assert [c.subject for c in capped.commits] == [f"change {n}" for n in range(3000, 2995, -1)]
    whole = await gitrepo.commit_range(
        str(repo), head=head, base=git(repo, "rev-parse", "v0.0.1"), shown=1, cap=1, timeout_s=30
    )
    assert whole is not None
    assert whole.total == 2999  # with a base, every commit counts


async def test_a_long_walk_runs_beside_the_event_loop_and_stops_at_its_deadline(
    repo: Path,
) -> None:
    long_history(repo, 20000)
    head, base = git(repo, "rev-parse", "v0.0.2"), git(repo, "rev-parse", "v0.0.1")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        found = await gitrepo.ahead_behind(str(repo), planned=head, live=base, timeout_s=60)
        during = ticks
        with pytest.raises(ToolFailed, match=r"^git log: git timed out after 1e-06 s$"):
            await gitrepo.commit_range(
                str(repo), head=head, base=base, shown=5, cap=5, timeout_s=0.000001
            )
    finally:
        ticker.cancel()
    assert found == (19999, 0)
    assert during > 0  # the loop ran while libgit2 walked
    assert len(RANGES) == 1  # the lineage; never a walk that did not finish


async def test_a_corrupt_object_fails_like_git_did(repo: Path) -> None:
    good = commit(repo, "good")
    bad = commit(repo, "will be corrupted")
    git(repo, "tag", "v1.0.0", good)
    git(repo, "tag", "v2.0.0", bad)
    loose = repo / ".git" / "objects" / bad[:2] / bad[2:]
    loose.chmod(0o644)
    loose.write_bytes(b"not a zlib stream")

    tags = {t.name: (t.sha, t.subject) for t in await list_tags(str(repo))}
    assert tags == {"v1.0.0": (good, "good"), "v2.0.0": (bad, None)}  # listed, no subject
    with pytest.raises(ToolFailed, match=r"^git log: .*(inflate|corrupt)"):
        await gitrepo.commit_range(str(repo), head=bad, base=good, shown=5, cap=5, timeout_s=10)
    unknown = await lineage(str(repo), planned=bad, live=good)
    assert unknown.relation == "unknown"
    assert unknown.why is not None
    assert unknown.why.startswith("git rev-list: ")
    assert len(RANGES) == 0  # failures are not kept
    assert PEELED.get((str(repo), bad)) is None  # nor an object that could not be read


async def test_a_missing_revision_reads_like_git_s_bad_revision(repo: Path) -> None:
    head = commit(repo, "only")
    with pytest.raises(ToolFailed, match=r"^git log: bad revision '\^refs/tags/v0\.9\.9'$"):
        await gitrepo.commit_range(
            str(repo), head=head, base="refs/tags/v0.9.9", shown=5, cap=5, timeout_s=10
        )
    absent = "1" * 40
    assert await lineage(str(repo), planned=head, live=absent) == Lineage(
        relation="unknown", why=f"git rev-list: bad object {absent}"
    )
