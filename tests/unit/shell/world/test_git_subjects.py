"""A commit's subject and author as git's ``%s`` and ``%an`` print them, read in-process
(bot/shell/world/gitrepo.py) from commits made here with libgit2 itself (no git process)."""

from pathlib import Path

import pygit2
import pytest

from bot.shell.world.gitrepo import _author, _subject


@pytest.mark.parametrize(
    ("message", "subject"),
    [
        ("fix login timeout\n", "fix login timeout"),
        ("fix login\ntimeout  \n\nbody\n", "fix login timeout"),  # git joins the first paragraph
        ("\n\nleading blank lines\n", "leading blank lines"),
        ("no newline", "no newline"),
        ("crlf line\r\n\r\nbody", "crlf line"),
        ("", ""),
    ],
)
def test_subject_is_the_first_paragraph(tmp_path: Path, message: str, subject: str) -> None:
    repo = pygit2.init_repository(str(tmp_path / "r"))
    who = pygit2.Signature("Zoë Tester", "z@example.invalid")
    tree = repo.TreeBuilder().write()
    oid = repo.create_commit("HEAD", who, who, message, tree, [])
    commit = repo.get(oid)
    assert isinstance(commit, pygit2.Commit)
    assert _subject(commit) == subject
    assert _author(commit) == "Zoë Tester"
