"""The demo data folder: a config that loads, repositories with tags, scripts that run."""

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.app.config_file import load_config
from bot.app.demo import default_data_dir, ensure_demo
from bot.core.thread.plan import Plan
from bot.core.thread.text.actor import Actor
from bot.shell.process.command_deployer import CommandDeployer
from bot.shell.world.tags import list_tags


async def test_ensure_demo_twice_gives_a_working_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data"
    path = ensure_demo(data_dir=data_dir)
    (data_dir / "deploybot.toml").write_text(path.read_text() + "\n# edited\n")
    assert ensure_demo(data_dir=data_dir) == path == data_dir / "deploybot.toml"
    assert path.read_text().endswith("# edited\n"), "an existing config is never overwritten"

    config = load_config(path)
    assert sorted(config.services) == ["backend", "frontend"]
    assert config.environments["production"].approvers == ["alice", "bob"]
    assert config.person_for(Actor("email:bob@example.com")) == "bob"

    backend = await list_tags(config.repo_location("backend"))
    assert [t.name for t in backend] == ["v1.4.2", "v1.4.1", "v1.4.0"]
    assert backend[1].subject == "fix login timeout"
    assert all(t.subject for t in backend)
    frontend = await list_tags(config.repo_location("frontend"))
    assert [t.name for t in frontend] == ["v2.1.0", "v2.0.0"]
    assert not list((data_dir / "repos").glob(".*")), "no temporary folders left"

    monkeypatch.setenv("DEPLOYBOT_DEMO_SLEEP_S", "0")
    monkeypatch.delenv("DEPLOYBOT_DEMO_LOG", raising=False)
    tag = backend[0]
    plan = Plan(
        kind="deploy",
        service="backend",
        environment="production",
        version=tag.name,
        sha=tag.sha,
        previous_version="v1.4.1",
        requester="carol",
    )
    deployer = CommandDeployer(run_as_root=True, config=config, secrets=[])
    result = await deployer.run(plan=plan, idempotency_key="t1:cafe", fencing_token=1)
    assert result.result == "succeeded", result.output_tail
    assert result.output_tail.splitlines() == [
        "deploying backend v1.4.2 to production",
        "backend v1.4.2 is live",
    ]
    rollback = await deployer.run(
        plan=plan.model_copy(update={"kind": "rollback", "version": "v1.4.1"}),
        idempotency_key="t2:beef",
        fencing_token=2,
    )
    assert rollback.output_tail.splitlines()[-1] == "backend rolled back to v1.4.1"

    lines = (data_dir / "deploys.log").read_text().splitlines()
    assert [line.split()[1:] for line in lines] == [
        ["deploy", "backend", "v1.4.2", "production", "t1:cafe"],
        ["rollback", "backend", "v1.4.1", "production", "t2:beef"],
    ]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DEPLOYBOT_HOME": "/srv/db", "XDG_DATA_HOME": "/x"}, Path("/srv/db")),
        ({"DEPLOYBOT_HOME": "", "XDG_DATA_HOME": "/x"}, Path("/x/deploybot")),
        ({"XDG_DATA_HOME": "relative"}, Path("/home/u/.local/share/deploybot")),
        ({}, Path("/home/u/.local/share/deploybot")),
        # root: its commands run as another user, who cannot enter /root
        ({"uid": "0"}, Path("/var/lib/deploybot")),
        ({"uid": "0", "DEPLOYBOT_HOME": "/srv/db"}, Path("/srv/db")),
    ],
)
def test_default_data_dir(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: Path
) -> None:
    env = dict(env)
    uid = int(env.pop("uid", "1000"))
    monkeypatch.setattr(os, "geteuid", lambda: uid)
    monkeypatch.delenv("DEPLOYBOT_HOME", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", "/home/u")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert default_data_dir() == expected


def test_ensure_demo_concurrently(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with ThreadPoolExecutor(max_workers=4) as pool:
        paths = list(pool.map(lambda _: ensure_demo(data_dir=data_dir), range(4)))
    assert set(paths) == {data_dir / "deploybot.toml"}
    assert load_config(paths[0]).services["backend"].timeout_s == 120
    assert sorted(p.name for p in (data_dir / "repos").iterdir()) == ["backend", "frontend"]
    # As root, the log the demo scripts append to is made for the user they run as.
    log = ["deploys.log"] if os.geteuid() == 0 else []
    assert sorted(p.name for p in data_dir.iterdir()) == sorted(
        ["deploybot.toml", "repos", "scripts", *log]
    )
    for script in ("deploy.sh", "rollback.sh"):
        assert (data_dir / "scripts" / script).stat().st_mode & 0o777 == 0o755
