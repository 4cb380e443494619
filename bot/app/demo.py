"""The demo: a data folder with a config, demo deploy scripts and two real git repositories,
so deploybot can be tried on a fresh machine with nothing else set up.

Layout made by ``ensure_demo(data_dir=D)``::

    D/deploybot.toml          the default config (bot/defaults/deploybot.toml)
    D/scripts/deploy.sh       demo scripts: print, sleep, append a line to D/deploys.log
    D/scripts/rollback.sh
    D/repos/backend           git repositories with tags v1.4.0 .. v1.4.2
    D/repos/frontend          ... and v2.0.0, v2.1.0

Files that already exist are left alone (an edited config is never overwritten). Each
repository is built in a temporary folder and renamed into place, so two processes running
``ensure_demo`` at once both end up with one complete repository.
"""

import os
import pwd
import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path

from bot.core.config.principal import DEFAULT_USER

__all__ = ["default_data_dir", "ensure_demo"]

_CONFIG = "deploybot.toml"
_SCRIPTS = ("deploy.sh", "rollback.sh")

# (file content, commit subject, tag or None) per commit, oldest first.
_HISTORY: dict[str, list[tuple[str, str, str | None]]] = {
    "backend": [
        ("backend 1.3", "initial import", None),
        ("backend 1.4.0", "add order search endpoint", "v1.4.0"),
        ("backend 1.4.1", "fix login timeout", "v1.4.1"),
        ("backend 1.4.2", "speed up order search", "v1.4.2"),
    ],
    "frontend": [
        ("frontend 1.9", "initial import", None),
        ("frontend 2.0.0", "new checkout page", "v2.0.0"),
        ("frontend 2.1.0", "add dark mode", "v2.1.0"),
    ],
}

# A fixed identity and clock: works without any git identity configured, ignores the
# user's git config (signing, hooks, templates) and gives the same shas on every machine.
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "deploybot demo",
    "GIT_AUTHOR_EMAIL": "demo@deploybot.invalid",
    "GIT_COMMITTER_NAME": "deploybot demo",
    "GIT_COMMITTER_EMAIL": "demo@deploybot.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
}
_EPOCH_S = 1_767_225_600  # 2026-01-01T00:00:00Z


def default_data_dir() -> Path:
    """``$DEPLOYBOT_HOME``, else ``$XDG_DATA_HOME/deploybot``, else
    ``~/.local/share/deploybot`` (``/var/lib/deploybot`` for root: the demo's commands then
    run as another user, who cannot enter root's home)."""
    home = os.environ.get("DEPLOYBOT_HOME")
    if home:
        return Path(home).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    if xdg and Path(xdg).is_absolute():  # the XDG spec says to ignore relative paths
        return Path(xdg) / "deploybot"
    if os.geteuid() == 0:
        return Path("/var/lib/deploybot")
    return Path.home() / ".local" / "share" / "deploybot"


def ensure_demo(*, data_dir: Path) -> Path:
    """Create whatever part of the demo is missing in ``data_dir``; the config's path."""
    data_dir.mkdir(parents=True, exist_ok=True)
    defaults = resources.files("bot") / "defaults"
    config = data_dir / _CONFIG
    if not config.exists():
        _write_atomically(config, defaults.joinpath(_CONFIG).read_bytes(), mode=0o644)
    scripts = data_dir / "scripts"
    scripts.mkdir(exist_ok=True)
    for name in _SCRIPTS:
        target = scripts / name
        if not target.exists():
            source = defaults.joinpath("scripts", name).read_bytes()
            _write_atomically(target, source, mode=0o755)
    _demo_log_for_commands(data_dir / "deploys.log")
    repos = data_dir / "repos"
    repos.mkdir(exist_ok=True)
    for name, history in _HISTORY.items():
        if not (repos / name).exists():
            _make_repo(repos / name, history)
    return config


def _demo_log_for_commands(log: Path) -> None:
    """As root, the demo scripts run as DEFAULT_USER: the log they append to is theirs."""
    if os.geteuid() != 0 or log.exists():
        return
    log.touch(mode=0o644)
    try:
        entry = pwd.getpwnam(DEFAULT_USER)
    except KeyError:
        return  # check-config and chat say that commands cannot run as that user
    os.chown(log, entry.pw_uid, entry.pw_gid)


def _write_atomically(path: Path, data: bytes, *, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _git(repo: Path, *args: str, at_s: int) -> None:
    env = {**os.environ, **_GIT_ENV}
    env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"@{at_s} +0000"
    subprocess.run(  # noqa: S603 - a fixed argv, no shell
        ["git", "-C", str(repo), *args],
        env=env,
        check=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
    )


def _make_repo(target: Path, history: list[tuple[str, str, str | None]]) -> None:
    """Build the repository next to ``target`` and rename it into place."""
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        _git(tmp, "init", "--quiet", "--initial-branch=main", at_s=_EPOCH_S)
        for day, (content, subject, tag) in enumerate(history):
            at_s = _EPOCH_S + day * 86_400
            (tmp / "VERSION").write_text(content + "\n", encoding="utf-8")
            _git(tmp, "add", "VERSION", at_s=at_s)
            _git(tmp, "commit", "--quiet", "--no-verify", "-m", subject, at_s=at_s)
            if tag is not None:
                _git(tmp, "tag", "-a", tag, "-m", f"release {tag}", at_s=at_s)
        try:
            tmp.rename(target)
        except OSError:
            if not target.exists():  # a concurrent run winning the race is fine
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
