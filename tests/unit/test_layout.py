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
    layers = [p.parent.name for p in modules() if p.parent.parent == BOT]
    assert layers.count("core") > 10
    assert layers.count("shell") > 10
    assert layers.count("app") > 5
    assert (BOT / "app" / "bootstrap.py").exists()
