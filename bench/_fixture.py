"""The benchmark's fixture: a git repository with five version tags and a config file.

The main services deploy with ``true`` (or, with ``--count-deploys``, a script that appends
its idempotency key to ``deploys.log``); the P6 services (``latency-0000`` ...) deploy with
``p6-start.sh``, which first records its own start time (``date +%s.%N``) and then its
idempotency key in ``p6-starts.log``. ``peer_command`` fills a service's deploy argv the way
the bot does (``./`` against the config's folder, ``{placeholders}`` per argument) for the
LangGraph peer, which runs the same command from the same folder.
"""

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

P6_LOG = "p6-starts.log"
#: The service of the thread ``--paused`` copies: no measured thread shares its lock.
PARKED = "parked"

__all__ = [
    "P6_LOG",
    "PARKED",
    "Fixture",
    "make_fixture",
    "p6_service_names",
    "peer_command",
    "service_names",
]


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


def p6_service_names(count: int) -> list[str]:
    return [f"latency-{i:04d}" for i in range(count)]


@dataclass(frozen=True)
class Fixture:
    config: Path
    deploy_log: Path
    p6_log: Path
    services: list[str]
    p6_services: list[str]


def peer_command(fixture: Fixture, *, service: str, key: str) -> tuple[list[str], Path]:
    """The argv and working folder of ``service``'s deploy of v1.4.0 to production."""
    from bot.app.config_file import load_config

    config = load_config(fixture.config)
    template = config.services[service].deploy
    assert isinstance(template, list), "the bench's services deploy with a command"
    values = {
        "service": service,
        "version": "v1.4.0",
        "environment": "production",
        "idempotency_key": key,
    }
    argv = [arg.format(**values) for arg in template]
    if argv[0].startswith("./"):
        argv[0] = str(fixture.config.parent / argv[0])
    return argv, fixture.config.parent


def make_fixture(
    tmp: Path, *, services: list[str], p6_services: list[str], count_deploys: bool
) -> Fixture:
    """A repo with 5 version tags, the deploy scripts and a config."""
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
    p6 = tmp / "p6-start.sh"
    p6.write_text(
        "#!/bin/sh\nt=$(date +%s.%N)\n"
        f'printf "%s %s\\n" "$t" "$DEPLOYBOT_IDEMPOTENCY_KEY" >> "$(dirname "$0")/{P6_LOG}"\n'
    )
    p6.chmod(0o755)
    p6_deploy = '["./p6-start.sh", "{service}", "{version}", "{environment}"]'
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
        for name in [*services, PARKED]
    ) + "".join(
        f"""[services.{name}]
repo = "backend"
deploy = {p6_deploy}
timeout_s = 60
environments = ["staging", "production"]

"""
        for name in p6_services
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
    return Fixture(
        config=config,
        deploy_log=log,
        p6_log=tmp / P6_LOG,
        services=services,
        p6_services=p6_services,
    )
