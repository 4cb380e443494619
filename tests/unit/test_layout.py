"""The layout is part of the design (issue 11): modules of the pure core and the shell stay
small enough to read in one sitting, and each layer keeps to its imports (the import
contracts in pyproject.toml, run by ``lint-imports`` in scripts/test)."""

from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[2] / "bot"
MAX_LINES = 300
LAYERS = ("core", "shell")


def modules() -> list[Path]:
    return sorted(p for layer in LAYERS for p in (BOT / layer).glob("*.py"))


@pytest.mark.parametrize("path", modules(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_core_or_shell_module_stays_under_300_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, (
        f"bot/{path.parent.name}/{path.name} has {lines} lines (at most {MAX_LINES}): split it "
        "into modules of one noun each"
    )


def test_every_layer_is_there() -> None:
    assert [p.parent.name for p in modules()].count("core") > 10
    assert [p.parent.name for p in modules()].count("shell") > 10
    assert (BOT / "app" / "bootstrap.py").exists()
