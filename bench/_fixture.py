"""The benchmark's fixture: a git repository with five version tags and a config file."""

import os
import subprocess
from pathlib import Path

__all__ = ["make_fixture", "service_names"]


def _git(repo: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }
    subprocess.run(  # noqa: S603 - fixed argv, no shell
        ["git", "-C", str(repo), *args], check=True, env=env, capture_output=True
    )


def service_names(count: int) -> list[str]:
    """``backend`` alone, or ``backend-0000`` ... (fixed width: no name contains another)."""
    return ["backend"] if count == 1 else [f"backend-{i:04d}" for i in range(count)]


def make_fixture(tmp: Path, *, services: list[str], count_deploys: bool) -> tuple[Path, Path]:
    """A repo with 5 version tags and a config; returns (config file, deploy log)."""
    repo = tmp / "backend"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    for minor in range(5):
        (repo / "VERSION").write_text(f"1.{minor}.0\n")
        _git(repo, "add", "VERSION")
        _git(repo, "commit", "-q", "-m", f"release 1.{minor}.0")
        _git(repo, "tag", f"v1.{minor}.0")
    log = tmp / "deploys.log"
    deploy = '["true"]'
    if count_deploys:
        script = tmp / "count-deploy.sh"
        script.write_text(
            '#!/bin/sh\nprintf "%s\\n" "$DEPLOYBOT_IDEMPOTENCY_KEY" '
            '>> "$(dirname "$0")/deploys.log"\n'
        )
        script.chmod(0o755)
        deploy = '["./count-deploy.sh", "{service}", "{version}", "{environment}"]'
    people = "".join(
        f'[people.{name}]\nemail = "{name}@example.com"\n\n' for name in ("alice", "bob", "carol")
    )
    blocks = "".join(
        f"""[services.{name}]
repo = "backend"
deploy = {deploy}
timeout_s = 60
environments = ["staging", "production"]

"""
        for name in services
    )
    config = tmp / "deploybot.toml"
    config.write_text(
        people
        + blocks
        + """[environments.staging]
approval = false

[environments.production]
approval = true
approvers = ["alice", "bob"]
min_approvals = 1
self_approval = false
"""
    )
    return config, log
