"""Reading the config file: the one place its bytes are read (the core only parses text,
``bot.core.config.config.parse_config``).

Relative paths in the file are relative to its own folder, given to the core resolved
(absolute, links followed), so the core joins paths by name without asking the disk.
"""

from pathlib import Path

from bot.core.config.config import Config, parse_config
from bot.core.errors import ConfigError

__all__ = ["load_config"]


def load_config(path: Path) -> Config:
    """The config in the file at ``path``; ``ConfigError`` when it cannot be read or is
    invalid (naming the key)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from exc
    return parse_config(text, base_dir=path.resolve().parent, source=str(path))
