"""The core does no I/O. Modules import-linter cannot tell apart are checked here: from
``pathlib`` the core takes only the pure paths (``PurePath`` and kin: arithmetic on names),
never ``Path`` (which reads the disk), and it calls no ``open``. Which modules the core may
not import at all (``os``, ``time``, ``socket``, ...) is import-linter's contract in
pyproject.toml.
"""

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "bot" / "core"
PURE_PATHS = frozenset({"PurePath", "PurePosixPath", "PureWindowsPath"})


def io_in(source: str) -> list[str]:
    """What in ``source`` reaches the file system: ``import pathlib`` (all of it), a name
    from pathlib that is not a pure path, a call of the ``open`` builtin."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name == "pathlib"]
        elif isinstance(node, ast.ImportFrom) and node.module == "pathlib":
            found += [f"pathlib.{a.name}" for a in node.names if a.name not in PURE_PATHS]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            found += ["open()"] if node.func.id == "open" else []
    return found


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(CORE)))
def test_a_core_module_touches_no_file(path: Path) -> None:
    assert io_in(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("from pathlib import Path", ["pathlib.Path"]),
        ("from pathlib import PurePath, Path as P", ["pathlib.Path"]),
        ("import pathlib", ["import pathlib"]),
        ("text = open('deploybot.toml').read()", ["open()"]),
        ("from pathlib import PurePath, PurePosixPath", []),
        ("f = opener('x')", []),
    ],
)
def test_file_access_is_recognised(source: str, found: list[str]) -> None:
    assert io_in(source) == found
