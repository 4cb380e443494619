"""A deploy command cannot act with the bot's authority (issue 15.1), through real processes.

The attack: a staging deploy runs code from the repository being deployed
(tests/fixtures/hostile_deploy.py). It reads every /proc/<pid>/environ and cmdline it can,
every file it can open under the bot's working and config folders, and tries the bot's Redis
with no password and with every credential it found; where it gets in, it writes "approve"
in alice's name into the inbound stream, so that the production deploy carol asked for
would run without anybody's approval.

``deploybot web`` and ``deploybot worker`` run as real processes on a private Redis with a
password, with the bot's secrets in their environment and in a 0600 ``.env``:

- the bot as root, commands as the default user (nobody);
- the bot as root, commands as ``run_as`` (a user made for the test, with its own home);
- the bot as a plain user, commands as that same user (non-dumpable bot processes); a
  dumpable process of that user holding a decoy token shows the script can read /proc;
- the control: the bot as root with DEPLOYBOT_RUN_COMMANDS_AS_ROOT=true (commands as the
  bot's own user, as before this issue): the same script finds the secrets, gets into Redis
  and production deploys without an approval.

Counted: secrets found, decisions forged, production deploys in the deploy script's log.
"""

import asyncio
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core.thread.events import UserMessage
from bot.shell.streams.inbound import Envelope
from tests.conftest import mark_intact
from tests.harness import (
    Processes,
    RedisServer,
    api_client,
    bot_env,
    healthy,
    launch,
    read_thread,
    until_status,
)
from tests.support import free_port, make_repo

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root (CI runs as root)"),
]

REPO = Path(__file__).resolve().parents[2]
HOSTILE = REPO / "tests" / "fixtures" / "hostile_deploy.py"
SITE = next((REPO / ".venv" / "lib").glob("python3*/site-packages"), None)
BOT_USER = "dbt-authority-bot"
RUN_AS_USER = "dbt-authority-run"
REDIS_PASSWORD = "redis-pw-7d1f0c9e4b"
SECRETS = {
    "DEPLOYBOT_SECRET": "reply-key-5b8e2a61c3",
    "DEPLOYBOT_WEBHOOK_SECRET": "hook-key-9a4c7e21d0",
    "SLACK_SIGNING_SECRET": "slack-signing-3e9f1a7b",
    "ANTHROPIC_API_KEY": "sk-ant-authority-6c2d8e",
    "GITHUB_TOKEN": "ghp_authority0f3b9c7a1e5d",
    "IMAP_PASSWORD": "imap-pw-2b7c9d1e",
}
IN_DOTENV = {"DEPLOYBOT_API_TOKEN": "api-token-8f2e6a0b4c"}  # only in the bot's .env
TOKEN = IN_DOTENV["DEPLOYBOT_API_TOKEN"]
DECOY = "decoy-token-1a2b3c4d5e"
# Python for a plain-user bot: the venv's interpreter lives under /root, which other users
# cannot enter; Debian's python3 (same minor version) runs the same code and packages.
PLAIN_PYTHON = "/usr/bin/python3"
RUNNER = (
    "import sys; sys.path[:0] = sys.argv[1:3]; del sys.argv[1:3]; "
    "from bot.app.cli import main; sys.exit(main(sys.argv[1:]))"
)


def _user(name: str, *, home: Path | None) -> pwd.struct_passwd:
    subprocess.run(["userdel", "-f", name], capture_output=True, check=False)
    args = ["useradd", "--system", "--user-group", "--shell", "/usr/sbin/nologin"]
    args += ["--create-home", "--home-dir", str(home)] if home else ["--no-create-home"]
    subprocess.run([*args, name], check=True, capture_output=True)
    return pwd.getpwnam(name)


@pytest.fixture(scope="module")
def users() -> Iterator[dict[str, pwd.struct_passwd]]:
    homes = Path(tempfile.mkdtemp(prefix="dbt-homes-"))
    homes.chmod(0o755)
    made = {
        "bot": _user(BOT_USER, home=None),
        "run_as": _user(RUN_AS_USER, home=homes / RUN_AS_USER),
    }
    try:
        yield made
    finally:
        for name in (BOT_USER, RUN_AS_USER):
            subprocess.run(["userdel", "-f", name], capture_output=True, check=False)
        shutil.rmtree(homes, ignore_errors=True)


@dataclass
class Setup:
    base: Path
    bot_dir: Path
    config_dir: Path
    drop: Path
    redis: RedisServer
    procs: Processes | None = None

    @property
    def calls(self) -> list[str]:
        log = self.drop / "calls.log"
        return log.read_text().splitlines() if log.exists() else []

    @property
    def report(self) -> dict[str, object]:
        return dict(json.loads((self.drop / "report.json").read_text()))


@pytest.fixture
def setup() -> Iterator[Setup]:
    base = Path(tempfile.mkdtemp(prefix="dbt-authority-"))
    base.chmod(0o755)
    bot_dir, config_dir, drop = base / "bot", base / "config", base / "drop"
    for folder in (bot_dir, config_dir, drop):
        folder.mkdir()
    drop.chmod(0o777)
    try:
        with RedisServer(base / "redis", password=REDIS_PASSWORD).running() as redis:
            mark_intact("authority", url=redis.url)
            yield Setup(base, bot_dir, config_dir, drop, redis)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def write_config(s: Setup, *, run_as: str | None, dotenv: bool) -> Path:
    make_repo(s.config_dir / "repos" / "backend", [("v1.0.0", "first"), ("v1.0.1", "second")])
    scripts = s.config_dir / "scripts"
    scripts.mkdir()
    shutil.copy(HOSTILE, scripts / "hostile_deploy.py")
    deploy = scripts / "deploy.sh"
    deploy.write_text(
        "#!/bin/sh\n"
        f'printf \'%s %s %s %s\\n\' deploy "$1" "$2" "$3" >> {s.drop}/calls.log\n'
        f'if [ "$3" = staging ]; then {PLAIN_PYTHON} "$(dirname "$0")/hostile_deploy.py" '
        f"{s.drop}/report.json {s.drop}/forged.json {s.redis.port} {s.bot_dir} {s.config_dir}"
        "; fi\nexit 0\n"
    )
    for path in (scripts, deploy, scripts / "hostile_deploy.py"):
        path.chmod(0o755)
    config = s.config_dir / "deploybot.toml"
    config.write_text(f"""
[people.alice]
slack = "U0ALICE"
[people.carol]
slack = "U0CAROL"

[services.backend]
repo = "repos/backend"
deploy = ["./scripts/deploy.sh", "{{service}}", "{{version}}", "{{environment}}"]
timeout_s = 60
environments = ["staging", "production"]
{f'run_as = "{run_as}"' if run_as else ""}

[environments.staging]
approval = false

[environments.production]
approval = true
approvers = ["alice"]
""")
    if dotenv:
        env_file = s.bot_dir / ".env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in IN_DOTENV.items()))
        env_file.chmod(0o600)
    return config


def bot_environment(s: Setup, config: Path, *, as_root: bool, dotenv: bool) -> dict[str, str]:
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(s.bot_dir),
        "LANG": "C.UTF-8",
        "REDIS_URL": s.redis.url,
        "DEPLOYBOT_CONFIG": str(config),
        "DEPLOYBOT_KEY_PREFIX": "authority",
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
        **SECRETS,
    }
    if as_root:
        env["DEPLOYBOT_RUN_COMMANDS_AS_ROOT"] = "true"
    return env if dotenv else env | IN_DOTENV


def start_bot(
    s: Setup, env: dict[str, str], port: int, *, user: pwd.struct_passwd | None
) -> Processes:
    """``deploybot web`` and ``worker`` as the test's own user, or as ``user`` (through
    setpriv and Debian's python3: see PLAIN_PYTHON)."""
    argv = [sys.executable, "-m", "bot"]
    if user is not None:
        assert SITE is not None, "no .venv site-packages: run ./scripts/test"
        argv = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups"]
        argv += [PLAIN_PYTHON, "-c", RUNNER, str(SITE), str(REPO)]
    procs = Processes(env, s.bot_dir, logs=False, argv=argv)
    procs.web(port)
    procs.start("worker")
    return procs


async def attack(s: Setup, port: int, *, control: bool = False) -> str:
    """carol asks for production (waits for alice), then staging (runs the script);
    the production thread's status once the script's forgery had time to be handled."""
    assert s.procs is not None
    async with api_client(port, TOKEN) as client:
        await healthy(port, alive=s.procs.procs[:1])
        prod_id = await launch(client, "deploy backend v1.0.1 to production")
        await until_status(client, prod_id, "awaiting_approval", timeout_s=15)
        forged = Envelope(
            thread_id=prod_id,
            event=UserMessage(
                id="forged-1", at=datetime.now(UTC), actor="slack:U0ALICE", text="approve"
            ),
        )
        (s.drop / "forged.json").write_text(forged.model_dump_json())
        stage_id = await launch(client, "deploy backend v1.0.1 to staging")
        await until_status(client, stage_id, "done", timeout_s=15)
        assert (s.drop / "report.json").exists(), "the hostile script did not run"
        if control:
            await until_status(client, prod_id, "done", timeout_s=15)
        else:
            await asyncio.sleep(2)  # what the worker would do with a forged approval
        return str((await read_thread(client, prod_id))["status"])


def leaked(report: dict[str, object]) -> list[str]:
    """The bot's secrets among what the script found."""
    known = [REDIS_PASSWORD, *SECRETS.values(), *IN_DOTENV.values()]
    found = report["secrets"]
    assert isinstance(found, list)
    return sorted({k for item in found for k in known if k in item["value"]})


async def run_scenario(
    s: Setup,
    *,
    run_as: str | None,
    bot: pwd.struct_passwd | None,
    as_root: bool = False,
    control: bool = False,
) -> str:
    # A plain-user bot keeps its secrets in its environment only: a file of its user is a
    # file its commands may read (README "Security").
    dotenv = bot is None
    config = write_config(s, run_as=run_as, dotenv=dotenv)
    if bot is not None:  # the plain-user bot owns its folders, as it would
        subprocess.run(["chown", "-R", f"{bot.pw_uid}:{bot.pw_gid}", str(s.base)], check=True)
        s.drop.chmod(0o777)
    port = free_port()
    s.procs = start_bot(
        s, bot_environment(s, config, as_root=as_root, dotenv=dotenv), port, user=bot
    )
    with s.procs:
        return await attack(s, port, control=control)


def still_there(path: str) -> bool:
    """True when ``path`` is still there."""
    return os.path.exists(path)


def production_deploys(s: Setup) -> list[str]:
    return [line for line in s.calls if line.endswith(" production")]


async def test_root_bot_runs_commands_as_nobody_who_finds_nothing(setup: Setup) -> None:
    status = await run_scenario(setup, run_as=None, bot=None)

    report = setup.report
    assert report["uid"] == pwd.getpwnam("nobody").pw_uid
    assert leaked(report) == []
    assert report["forged"] == 0
    assert report["environs_read"] == 0 or leaked(report) == []
    assert production_deploys(setup) == []
    assert status == "awaiting_approval"
    assert [line.split()[3] for line in setup.calls] == ["staging"]
    # Its HOME and folder were its own, private, and are gone.
    assert str(report["home"]).startswith(tempfile.gettempdir() + "/deploybot-run-")
    assert report["cwd"] == report["home"]
    assert not still_there(str(report["cwd"]))


async def test_root_bot_runs_commands_as_run_as_with_its_home(
    setup: Setup, users: dict[str, pwd.struct_passwd]
) -> None:
    status = await run_scenario(setup, run_as=RUN_AS_USER, bot=None)

    report = setup.report
    account = users["run_as"]
    assert report["uid"] == account.pw_uid
    assert report["groups"] == [account.pw_gid]  # none of root's groups
    assert report["home"] == account.pw_dir
    assert leaked(report) == []
    assert report["forged"] == 0
    assert production_deploys(setup) == []
    assert status == "awaiting_approval"


async def test_plain_user_bot_is_not_readable_by_its_own_commands(
    setup: Setup, users: dict[str, pwd.struct_passwd]
) -> None:
    bot = users["bot"]
    # A dumpable process of the same user, holding a token: the script can read it.
    decoy = subprocess.Popen(
        ["setpriv", f"--reuid={bot.pw_uid}", f"--regid={bot.pw_gid}", "--init-groups",
         "sleep", "60"],
        env={"PATH": "/usr/bin:/bin", "DECOY_TOKEN": DECOY},
        cwd=setup.drop,
    )  # fmt: skip
    try:
        status = await run_scenario(setup, run_as=None, bot=bot)
    finally:
        decoy.kill()
        decoy.wait()

    report = setup.report
    assert report["uid"] == bot.pw_uid  # commands run as the bot's own user
    values = [item["value"] for item in report["secrets"]]  # type: ignore[attr-defined]
    assert DECOY in values, "the script could not read a same-user process: proves nothing"
    assert leaked(report) == []
    assert report["forged"] == 0
    assert production_deploys(setup) == []
    assert status == "awaiting_approval"


async def test_control_commands_as_the_bots_own_user_can_approve_as_alice(setup: Setup) -> None:
    """The attack is real: run as the bot's own (root) user, as commands were before this
    issue, the same script reads the bot's secrets, gets into Redis and forges alice's
    approval; production deploys with nobody's approval."""
    status = await run_scenario(setup, run_as=None, bot=None, as_root=True, control=True)

    report = setup.report
    assert report["uid"] == 0
    assert REDIS_PASSWORD in leaked(report)
    assert isinstance(report["forged"], int)
    assert report["forged"] >= 1
    assert len(production_deploys(setup)) == 1
    assert status == "done"


def test_the_demo_as_root_runs_its_deploys_as_nobody() -> None:
    """The README's first command, as root without the opt-in: the demo's scripts run as
    nobody (the demo keeps them where nobody may run them) and its log records the deploy."""
    home = Path(tempfile.mkdtemp(prefix="dbt-demo-"))
    home.chmod(0o755)
    env = bot_env(root_opt_in=False)  # as root without the opt-in
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bot", "chat", "--user", "carol"],
            input="deploy frontend to staging\n",
            env=env | {"DEPLOYBOT_HOME": str(home)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        log = home / "deploys.log"
        owner = log.stat().st_uid
        lines = log.read_text().splitlines()
    finally:
        shutil.rmtree(home, ignore_errors=True)

    assert done.returncode == 0, done.stderr
    assert "bot> Deploying frontend v2.1.0 to staging ... ok in" in done.stdout
    assert "DEPLOYBOT_RUN_COMMANDS_AS_ROOT" not in done.stderr  # no warning: not as root
    assert owner == pwd.getpwnam("nobody").pw_uid
    assert len(lines) == 1
    assert " deploy frontend v2.1.0 staging " in lines[0]
