"""``supervisor.executable``: the file ``execvpe`` would run, found by the supervisor server
before it clones a supervisor, or None where only the command's own search may decide."""

import os
from pathlib import Path

import pytest

from bot.shell.process.supervisor import executable


def _tool(folder: Path, name: str, *, mode: int = 0o755) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(mode)
    return path


def test_the_first_executable_on_path_is_the_one(tmp_path: Path) -> None:
    first = _tool(tmp_path / "a", "deploy")
    _tool(tmp_path / "b", "deploy")
    env = {"PATH": f"{tmp_path / 'a'}:{tmp_path / 'b'}"}
    assert executable("deploy", env) == str(first)


def test_a_file_that_is_not_executable_or_a_folder_is_passed_over(tmp_path: Path) -> None:
    _tool(tmp_path / "a", "deploy", mode=0o644)
    (tmp_path / "b" / "deploy").mkdir(parents=True)
    found = _tool(tmp_path / "c", "deploy")
    env = {"PATH": os.pathsep.join(str(tmp_path / d) for d in "abc")}
    assert executable("deploy", env) == str(found)


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("./deploy", "/usr/bin"),  # a path is run as given, from the working folder
        ("bin/deploy", "/usr/bin"),
        ("no-such-tool-anywhere", "/usr/bin:/bin"),  # not found: the command's own error
        ("true", ":/usr/bin:/bin"),  # an empty entry is the working folder: not known here
        ("true", "relative/bin:/usr/bin:/bin"),
    ],
)
def test_what_only_the_command_may_decide_is_left_to_it(name: str, path: str) -> None:
    assert executable(name, {"PATH": path}) is None


def test_a_relative_folder_after_the_match_does_not_matter(tmp_path: Path) -> None:
    found = _tool(tmp_path / "a", "deploy")
    assert executable("deploy", {"PATH": f"{tmp_path / 'a'}::rel"}) == str(found)


def test_without_path_the_default_search_path_is_used() -> None:
    got = executable("sh", {})
    assert got is not None
    assert os.path.dirname(got) in os.defpath.split(os.pathsep)
