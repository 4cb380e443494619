"""Who deploy, rollback, status and check commands run as, with real processes (bot as root).

Each command is a real script that writes what it is (uid, groups, HOME, working folder) and
what it can reach of the bot (the supervisor's and the worker's /proc files, a signal to the
worker) into a file. The bot here is this test process, running as root.
"""

import grp
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.core.config.config import Config, parse_config
from bot.core.thread.plan import Plan
from bot.shell.process import users
from bot.shell.process.command_deployer import CommandDeployer

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root (CI: root)")

PLAN = Plan(
    kind="deploy",
    service="backend",
    environment="staging",
    version="v1",
    sha="abc",
    requester="carol",
)
RUN_AS = "dbt-runas-user"
GROUP = "dbt-runas-extra"
TOOR = "dbt-runas-toor"  # uid 0 under another name

WHOAMI = """#!/bin/sh
out="{out}"
{{
echo "uid=$(id -u) groups=$(id -G) home=$HOME pwd=$(pwd) user=$USER"
cat /proc/$PPID/environ >/dev/null 2>&1 && echo "read-supervisor-environ"
worker=$(cut -d' ' -f4 /proc/$PPID/stat)
cat /proc/$worker/environ >/dev/null 2>&1 && echo "read-worker-environ"
kill -0 "$worker" 2>/dev/null && echo "can-signal-worker"
echo kept > left-behind.txt
ln -s /etc/hostname link-to-etc
}} >> "$out"
exit 0
"""


@pytest.fixture(scope="module")
def accounts() -> Iterator[dict[str, pwd.struct_passwd]]:
    homes = Path(tempfile.mkdtemp(prefix="dbt-runas-homes-"))
    homes.chmod(0o755)
    for name in (RUN_AS, TOOR):
        subprocess.run(["userdel", "-f", name], capture_output=True, check=False)
    subprocess.run(["groupdel", GROUP], capture_output=True, check=False)
    subprocess.run(["groupadd", "--system", GROUP], check=True)
    subprocess.run(
        ["useradd", "--system", "--user-group", "--groups", GROUP, "--create-home",
         "--home-dir", str(homes / RUN_AS), "--shell", "/usr/sbin/nologin", RUN_AS],
        check=True,
    )  # fmt: skip
    subprocess.run(
        ["useradd", "--system", "--non-unique", "--uid", "0", "--no-create-home", TOOR],
        check=True,
    )
    try:
        yield {"run_as": pwd.getpwnam(RUN_AS)}
    finally:
        for name in (RUN_AS, TOOR):
            subprocess.run(["userdel", "-f", name], capture_output=True, check=False)
        subprocess.run(["groupdel", GROUP], capture_output=True, check=False)
        shutil.rmtree(homes, ignore_errors=True)


@pytest.fixture
def base() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="dbt-runas-"))
    path.chmod(0o755)
    (path / "scripts").mkdir(mode=0o755)
    out = path / "out.log"
    out.touch(mode=0o666)
    out.chmod(0o666)
    script = path / "scripts" / "whoami.sh"
    script.write_text(WHOAMI.format(out=out))
    script.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def config(base: Path, run_as: str | None = None) -> Config:
    line = f'run_as = "{run_as}"' if run_as else ""
    return parse_config(
        f"""
[services.backend]
repo = "r"
deploy = ["./scripts/whoami.sh"]
status = ["./scripts/whoami.sh", "{{idempotency_key}}"]
environments = ["staging"]
{line}
[environments.staging]
""",
        base_dir=base,
    )


def seen(base: Path) -> list[str]:
    return (base / "out.log").read_text().splitlines()


def exists(path: str) -> bool:
    return Path(path).exists()


def facts(line: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in line.split() if "=" in part)


async def test_a_root_bot_runs_every_command_as_nobody_by_default(base: Path) -> None:
    deployer = CommandDeployer(config=config(base), secrets=[])

    deployed = await deployer.run(plan=PLAN, idempotency_key="k1", fencing_token=1)
    status = await deployer.status(plan=PLAN, idempotency_key="k1", fencing_token=1)
    checked = await deployer.run_argv(
        argv=[str(base / "scripts" / "whoami.sh")], plan=PLAN, idempotency_key="k1", timeout_s=10
    )

    assert [r.result for r in (deployed, status, checked)] == ["succeeded"] * 3  # type: ignore[union-attr]
    lines = seen(base)
    nobody = pwd.getpwnam("nobody")
    assert [facts(line)["uid"] for line in lines] == [str(nobody.pw_uid)] * 3
    for line in lines:
        assert facts(line)["groups"] == str(nobody.pw_gid)  # none of root's groups
        assert facts(line)["home"] == facts(line)["pwd"]  # nobody has no home: its folder
        assert facts(line)["home"].startswith(tempfile.gettempdir() + "/deploybot-run-")
        assert not exists(facts(line)["pwd"])  # removed, with what it left
        assert facts(line)["user"] == "nobody"
    assert not [line for line in lines if "read-" in line or "can-signal" in line]
    assert exists("/etc/hostname")  # a link left in its folder removed nothing else


async def test_run_as_gets_its_groups_and_its_own_home(
    base: Path, accounts: dict[str, pwd.struct_passwd]
) -> None:
    deployer = CommandDeployer(config=config(base, RUN_AS), secrets=[])

    result = await deployer.run(plan=PLAN, idempotency_key="k1", fencing_token=1)

    assert result.result == "succeeded", result.output_tail
    account = accounts["run_as"]
    (line,) = seen(base)
    extra = grp.getgrnam(GROUP).gr_gid
    assert facts(line)["uid"] == str(account.pw_uid)
    assert line.split("groups=")[1].split(" home=")[0].split() == sorted(
        [str(account.pw_gid), str(extra)], key=lambda g: g != str(account.pw_gid)
    )
    assert facts(line)["home"] == account.pw_dir
    assert facts(line)["pwd"] != account.pw_dir  # still a private working folder
    assert facts(line)["user"] == RUN_AS


@pytest.mark.parametrize(
    ("run_as", "says"),
    [
        ("dbt-no-such-user", "user 'dbt-no-such-user' does not exist on this machine"),
        ("root", "runs commands as root"),
        (TOOR, "(uid 0) runs commands as root"),
    ],
)
async def test_a_refused_account_fails_the_deploy_before_anything_runs(
    base: Path, accounts: dict[str, pwd.struct_passwd], run_as: str, says: str
) -> None:
    deployer = CommandDeployer(config=config(base, run_as), secrets=[])

    result = await deployer.run(plan=PLAN, idempotency_key="k1", fencing_token=1)

    assert result.result == "failed"
    assert result.exit_code is None
    assert says in result.output_tail
    assert "cannot run ./scripts/whoami.sh" in result.output_tail
    assert seen(base) == []


async def test_root_only_with_the_opt_in(base: Path) -> None:
    deployer = CommandDeployer(config=config(base, "root"), secrets=[], run_as_root=True)

    result = await deployer.run(plan=PLAN, idempotency_key="k1", fencing_token=1)

    assert result.result == "succeeded"
    assert facts(seen(base)[0])["uid"] == "0"


async def test_a_bot_that_is_not_root_refuses_run_as(
    base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(users, "bot_user", lambda: ("svc-bot", False))
    deployer = CommandDeployer(config=config(base, "deployer"), secrets=[])

    result = await deployer.run(plan=PLAN, idempotency_key="k1", fencing_token=1)

    assert result.result == "failed"
    assert "deploybot runs as 'svc-bot', not as root" in result.output_tail
    assert seen(base) == []


async def test_what_another_user_starts_is_still_stopped_at_the_timeout(base: Path) -> None:
    script = base / "scripts" / "slow.sh"
    script.write_text(
        "#!/bin/sh\nsetsid sleep 300 &\necho $! > " + str(base / "child.pid") + "\nsleep 300\n"
    )
    script.chmod(0o755)
    (base / "child.pid").touch(mode=0o666)
    (base / "child.pid").chmod(0o666)
    text = f"""
[services.backend]
repo = "r"
deploy = ["{script}"]
timeout_s = 1
environments = ["staging"]
[environments.staging]
"""
    cfg = parse_config(text, base_dir=base)
    deployer = CommandDeployer(config=cfg, secrets=[], grace_s=0.2)

    result = await deployer.run(plan=PLAN, idempotency_key="k1", fencing_token=1)

    assert result.result == "timed_out"
    child = int((base / "child.pid").read_text())
    state = _state(child)
    assert state in (None, "Z", "X"), f"the setsid child of nobody is still {state}"


def _state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


@pytest.fixture
def roots() -> Iterator[Path]:
    """An empty folder of root's (0755) a command may point a link at."""
    path = Path(tempfile.mkdtemp(prefix="dbt-runas-roots-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def folder_script(base: Path, step: str) -> Path:
    script = base / "scripts" / "folder.sh"
    script.write_text(f'#!/bin/sh\necho "home=$HOME" >> {base / "out.log"}\n{step}\n')
    script.chmod(0o755)
    return script


def what_is_at(path: str) -> str:
    """ "nothing", "link" (left in place afterwards: removed here) or "folder"."""
    if os.path.islink(path):
        os.unlink(path)
        return "link"
    return "folder" if os.path.lexists(path) else "nothing"


@pytest.mark.parametrize(
    ("step", "left"),
    [
        ("", "nothing"),  # removed by the supervisor itself (rmdir), no fork
        ('cd / && rmdir "$HOME" && ln -s {roots} "$HOME"', "link"),  # not followed
        ('cd / && rmdir "$HOME" && mkdir "$HOME"', "nothing"),  # the user's own: removed
    ],
    ids=["left-empty", "a-link-to-roots-folder-in-its-place", "its-own-folder-in-its-place"],
)
async def test_a_commands_folder_is_removed_and_nothing_it_points_at(
    base: Path, roots: Path, step: str, left: str
) -> None:
    """Whatever the command does with its private folder, the supervisor (root) removes at
    most that folder: an empty one at once, anything else as the command's user."""
    script = folder_script(base, step.format(roots=roots))

    result = await CommandDeployer(config=config(base), secrets=[]).run_argv(
        argv=[str(script)], plan=PLAN, idempotency_key="k1", timeout_s=10
    )

    assert result.result == "succeeded", result.output_tail
    (line,) = seen(base)
    home = facts(line)["home"]
    assert home.startswith(tempfile.gettempdir() + "/deploybot-run-")
    assert what_is_at(home) == left  # a link the user left stays: theirs, harmless
    assert exists(str(roots))  # what a link pointed at is never removed
