"""The layout is part of the design (issue 11): every module of bot/, agents/ and channels/
stays small enough to read in one sitting (split by job when it grows), and each layer keeps
to its imports (the import contracts in pyproject.toml, run by ``lint-imports`` in
scripts/test)."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BOT = ROOT / "bot"
PACKAGES = ("bot", "agents", "channels")
MAX_LINES = 300


def modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_module_stays_under_300_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, (
        f"{path.relative_to(ROOT)} has {lines} lines (at most {MAX_LINES}): split it by job "
        "into modules of one noun each"
    )


def test_every_layer_is_there() -> None:
    layers = [p.relative_to(BOT).parts[0] for p in modules() if BOT in p.parents]
    assert layers.count("core") > 10
    assert layers.count("shell") > 10
    assert layers.count("app") > 5
    assert (BOT / "app" / "bootstrap.py").exists()


@pytest.mark.parametrize("wing", ["core", "shell"])
def test_a_wing_is_a_handful_of_capability_packages(wing: str) -> None:
    """A newcomer finds a capability from the tree: each wing is a few packages, each with a
    docstring saying what it owns, and no flat module but the core's error tree."""
    root = BOT / wing
    packages = sorted(p for p in root.iterdir() if (p / "__init__.py").exists())
    flat = sorted(p.name for p in root.glob("*.py") if p.name != "__init__.py")
    assert 5 <= len(packages) <= 12, [p.name for p in packages]
    assert flat == (["errors.py"] if wing == "core" else []), flat
    for package in packages:
        doc = (package / "__init__.py").read_text(encoding="utf-8")
        assert doc.startswith('"""'), f"{package} has no docstring"
        assert len(doc) > 200, f"{package}'s docstring says too little about what it owns"
        unnamed = [m.stem for m in package.glob("*.py") if f"``{m.stem}``" not in doc]
        assert unnamed == ["__init__"], f"{package}'s docstring does not name {unnamed[1:]}"
