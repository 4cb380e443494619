"""CommandDeployer running real scripts that record every call in a file."""

import asyncio
import os
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.core.config.config import Config
from bot.core.thread.plan import Plan
from bot.core.wording.redact import MASK
from bot.shell.process.command_deployer import CommandDeployer

PLAN = Plan(
    kind="deploy",
    service="backend",
    environment="staging",
    version="v1.4.2",
    sha="0123456789abcdef0123456789abcdef01234567",
    previous_version="v1.4.1",
    requester="carol",
)

# Appends "<idempotency key> <args>" per call, echoes to stdout and stderr, sleeps
# $SLEEP_S, exits $EXIT_CODE.
RECORD_SH = """#!/bin/sh
printf '%s %s\\n' "$DEPLOYBOT_IDEMPOTENCY_KEY" "$*" >> "$(dirname "$0")/calls.log"
echo "deploying $1 $2 to $3 (fence $DEPLOYBOT_FENCING_TOKEN)"
echo "warming caches" >&2
sleep "${SLEEP_S:-0}"
echo "done in $(pwd)"
exit "${EXIT_CODE:-0}"
"""


def script(folder: Path, name: str, body: str) -> Path:
    path = folder / "scripts" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(body)
    path.chmod(0o755)
    return path


def config(
    base_dir: Path,
    *,
    deploy: list[str],
    rollback: list[str] | None = None,
    timeout_s: float = 10,
    pass_env: list[str] | None = None,
) -> Config:
    return Config.model_validate(
        {
            "services": {
                "backend": {
                    "repo": "repos/backend",
                    "deploy": deploy,
                    "rollback": rollback,
                    "timeout_s": timeout_s,
                    "environments": ["staging"],
                    "pass_env": pass_env or [],
                }
            },
            "environments": {"staging": {}},
            "base_dir": base_dir,
        }
    )


def calls(folder: Path) -> list[str]:
    log = folder / "scripts" / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def wait_dead(pid: int, *, within_s: float = 2) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        await asyncio.sleep(0.02)
    return False


DEFAULT_ARGV = ["./scripts/deploy.sh", "{service}", "{version}", "{environment}"]


async def test_success_records_one_call_and_streams_output(tmp_path: Path) -> None:
    script(tmp_path, "deploy.sh", RECORD_SH)
    deployer = CommandDeployer(
        run_as_root=True, config=config(tmp_path, deploy=DEFAULT_ARGV), secrets=[]
    )
    seen: list[str] = []

    async def on_output(line: str) -> None:
        seen.append(line)

    result = await deployer.run(
        plan=PLAN, idempotency_key="t1:abcd", fencing_token=7, on_output=on_output
    )

    assert result.result == "succeeded"
    assert result.exit_code == 0
    assert 0 < result.duration_s < 5
    assert calls(tmp_path) == ["t1:abcd backend v1.4.2 staging"]
    lines = [
        "deploying backend v1.4.2 to staging (fence 7)",
        "warming caches",
        f"done in {tmp_path}",  # runs in the config file's folder
    ]
    # Output is read in blocks: the callback gets the latest line of each block.
    assert seen[-1] == lines[-1]
    assert set(seen) <= set(lines)
    assert result.output_tail == "\n".join(lines)


async def test_non_zero_exit_is_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script(tmp_path, "deploy.sh", RECORD_SH)
    monkeypatch.setenv("EXIT_CODE", "3")
    cfg = config(tmp_path, deploy=DEFAULT_ARGV, pass_env=["EXIT_CODE"])
    deployer = CommandDeployer(run_as_root=True, config=cfg, secrets=[])

    result = await deployer.run(plan=PLAN, idempotency_key="k", fencing_token=1)

    assert (result.result, result.exit_code) == ("failed", 3)
    assert "warming caches" in result.output_tail
    assert len(calls(tmp_path)) == 1


@pytest.mark.parametrize("ignore_term", [False, True])
async def test_timeout_kills_the_whole_process_group(tmp_path: Path, ignore_term: bool) -> None:
    trap = "trap '' TERM\n" if ignore_term else ""
    script(
        tmp_path,
        "deploy.sh",
        "#!/bin/sh\n"
        f"{trap}"
        'printf "%s\\n" "$DEPLOYBOT_IDEMPOTENCY_KEY" >> "$(dirname "$0")/calls.log"\n'
        "sleep 60 &\n"
        'echo $! > "$(dirname "$0")/child.pid"\n'
        "echo started\n"
        "wait\n",
    )
    cfg = config(tmp_path, deploy=DEFAULT_ARGV, timeout_s=0.5)
    deployer = CommandDeployer(run_as_root=True, config=cfg, secrets=[], grace_s=0.3)

    started = time.monotonic()
    result = await deployer.run(plan=PLAN, idempotency_key="k", fencing_token=1)
    took_s = time.monotonic() - started

    assert result.result == "timed_out"
    assert result.exit_code == (-9 if ignore_term else -15)
    assert result.output_tail.splitlines() == [
        "started",
        "deploybot: timed out after 0.5 s; stopped",
    ]
    assert 0.5 <= took_s < (1.5 if ignore_term else 1.2)
    child = int((tmp_path / "scripts" / "child.pid").read_text())
    assert await wait_dead(child), "the script's child outlived the deploy"
    assert calls(tmp_path) == ["k"]


async def test_background_process_left_holding_the_output_is_stopped(tmp_path: Path) -> None:
    script(
        tmp_path,
        "deploy.sh",
        '#!/bin/sh\nsleep 60 &\necho $! > "$(dirname "$0")/child.pid"\necho bye\nexit 0\n',
    )
    deployer = CommandDeployer(
        run_as_root=True, config=config(tmp_path, deploy=DEFAULT_ARGV), secrets=[], grace_s=0.2
    )

    result = await deployer.run(plan=PLAN, idempotency_key="k", fencing_token=1)

    assert (result.result, result.exit_code) == ("succeeded", 0)
    assert result.output_tail.endswith("stopped processes left running by the command")
    child = int((tmp_path / "scripts" / "child.pid").read_text())
    assert await wait_dead(child)


async def test_secrets_stay_out_of_the_child_env_and_the_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = {
        "ANTHROPIC_API_KEY": "sk-ant-api03-owned-key",
        "SLACK_BOT_TOKEN": "xoxb-111-222-owned",
        "SLACK_SIGNING_SECRET": "signing-secret-value",
        "SLACK_APP_TOKEN": "xapp-1-owned",
        "SMTP_PASSWORD": "smtp-password-value",
        "IMAP_PASSWORD": "imap-password-value",
        "DEPLOYBOT_SECRET": "hmac-key-value",
        "DEPLOYBOT_API_TOKEN": "api-token-value",
    }
    for name in [n for n in os.environ if n.startswith("DEPLOYBOT_")]:
        monkeypatch.delenv(name)  # e.g. the test script's DEPLOYBOT_TEST_REDIS_URL
    for name, value in own.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DB_URL_FOR_DEPLOY", "kept-for-the-script")
    monkeypatch.setenv("VAULT_COPY", "vault-passphrase")  # its value is a secret we were given
    script(
        tmp_path,
        "deploy.sh",
        "#!/bin/sh\n"
        'env > "$(dirname "$0")/env.txt"\n'
        'echo "using vault-passphrase and the HMAC hmac-key-value"\n'
        'echo "password=swordfish"\n',
    )
    cfg = config(
        tmp_path, deploy=DEFAULT_ARGV, pass_env=["DB_URL_FOR_DEPLOY", "VAULT_COPY", "NOT_SET"]
    )
    deployer = CommandDeployer(run_as_root=True, config=cfg, secrets=["vault-passphrase"])
    seen: list[str] = []

    async def on_output(line: str) -> None:
        seen.append(line)

    result = await deployer.run(
        plan=PLAN, idempotency_key="t9:ffff", fencing_token=42, on_output=on_output
    )

    assert result.result == "succeeded"
    env = dict(
        line.split("=", 1)
        for line in (tmp_path / "scripts" / "env.txt").read_text().splitlines()
        if "=" in line
    )
    assert not set(own) & set(env)
    assert "VAULT_COPY" not in env  # named by pass_env, but its value is a secret
    assert "NOT_SET" not in env
    assert env["DB_URL_FOR_DEPLOY"] == "kept-for-the-script"  # named by pass_env
    assert {k: v for k, v in env.items() if k.startswith("DEPLOYBOT_")} == {
        "DEPLOYBOT_IDEMPOTENCY_KEY": "t9:ffff",
        "DEPLOYBOT_FENCING_TOKEN": "42",
        "DEPLOYBOT_KIND": "deploy",
        "DEPLOYBOT_SERVICE": "backend",
        "DEPLOYBOT_VERSION": "v1.4.2",
        "DEPLOYBOT_ENVIRONMENT": "staging",
        "DEPLOYBOT_SHA": PLAN.sha,
        "DEPLOYBOT_PREVIOUS_VERSION": "v1.4.1",
    }
    expected = [f"using {MASK} and the HMAC {MASK}", f"password={MASK}"]
    assert seen[-1] == expected[-1]
    assert set(seen) <= set(expected)
    assert result.output_tail == "\n".join(expected)


ARGS_SH = '#!/bin/sh\nfor a in "$@"; do printf "[%s]\\n" "$a"; done\n'


async def test_placeholders_fill_whole_arguments_without_a_shell(tmp_path: Path) -> None:
    script(tmp_path, "args.sh", ARGS_SH)
    template = [
        "./scripts/args.sh",
        "{service}",
        "--version={version}",
        "{environment}",
        "{sha}@{previous_version}",
        "{previous_version}",
    ]
    nasty = PLAN.model_copy(
        update={"version": "v1; touch pwned $(touch pwned2) {sha}", "previous_version": None}
    )
    deployer = CommandDeployer(
        run_as_root=True, config=config(tmp_path, deploy=template), secrets=[]
    )

    result = await deployer.run(plan=nasty, idempotency_key="k", fencing_token=1)

    assert result.result == "succeeded"
    assert result.output_tail.splitlines() == [
        "[backend]",
        "[--version=v1; touch pwned $(touch pwned2) {sha}]",
        "[staging]",
        f"[{PLAN.sha}@]",
        "[]",
    ]
    assert not (tmp_path / "pwned").exists()
    assert not (tmp_path / "pwned2").exists()


@pytest.mark.parametrize(
    ("rollback", "first_line"),
    [
        (["./scripts/args.sh", "rollback", "{version}"], "[rollback]"),
        (None, "[deploy]"),  # no rollback command: the deploy command with the older version
    ],
)
async def test_rollback_uses_its_own_template_when_there_is_one(
    tmp_path: Path, rollback: list[str] | None, first_line: str
) -> None:
    script(tmp_path, "args.sh", ARGS_SH)
    cfg = config(tmp_path, deploy=["./scripts/args.sh", "deploy", "{version}"], rollback=rollback)
    plan = PLAN.model_copy(update={"kind": "rollback", "version": "v1.4.0"})

    result = await CommandDeployer(run_as_root=True, config=cfg, secrets=[]).run(
        plan=plan, idempotency_key="k", fencing_token=1
    )

    assert result.output_tail.splitlines() == [first_line, "[v1.4.0]"]


async def test_missing_executable_is_a_failed_result(tmp_path: Path) -> None:
    deployer = CommandDeployer(
        run_as_root=True, config=config(tmp_path, deploy=DEFAULT_ARGV), secrets=[]
    )

    result = await deployer.run(plan=PLAN, idempotency_key="k", fencing_token=1)

    assert result.result == "failed"
    assert result.exit_code is None
    assert result.output_tail == "cannot run ./scripts/deploy.sh: No such file or directory"


async def test_not_executable_is_a_failed_result(tmp_path: Path) -> None:
    script(tmp_path, "deploy.sh", RECORD_SH).chmod(0o644)
    deployer = CommandDeployer(
        run_as_root=True, config=config(tmp_path, deploy=DEFAULT_ARGV), secrets=[]
    )

    result = await deployer.run(plan=PLAN, idempotency_key="k", fencing_token=1)

    assert result.result == "failed"
    assert result.output_tail == "cannot run ./scripts/deploy.sh: Permission denied"
    assert calls(tmp_path) == []


async def test_a_failing_output_callback_does_not_stop_the_deploy(tmp_path: Path) -> None:
    script(tmp_path, "deploy.sh", RECORD_SH)
    deployer = CommandDeployer(
        run_as_root=True, config=config(tmp_path, deploy=DEFAULT_ARGV), secrets=[]
    )

    async def broken(line: str) -> None:
        raise RuntimeError("slack is down")

    result = await deployer.run(plan=PLAN, idempotency_key="k", fencing_token=1, on_output=broken)

    assert result.result == "succeeded"
    assert len(calls(tmp_path)) == 1


async def test_long_lines_and_escape_codes_are_compacted(tmp_path: Path) -> None:
    script(
        tmp_path,
        "deploy.sh",
        "#!/bin/sh\n"
        "i=0; while [ $i -lt 20 ]; do echo line $i; i=$((i+1)); done\n"
        "printf '\\033[32mgreen\\033[0m\\n'\n"
        "head -c 10000 /dev/zero | tr '\\0' x; echo\n"
        "head -c 300000 /dev/zero | tr '\\0' y >&2; echo\n"
        "printf '\\033[31mend\\033[0m\\n'\n",
    )
    deployer = CommandDeployer(
        run_as_root=True, config=config(tmp_path, deploy=DEFAULT_ARGV), secrets=[]
    )
    seen: list[str] = []

    async def on_output(line: str) -> None:
        seen.append(line)

    result = await deployer.run(
        plan=PLAN, idempotency_key="k", fencing_token=1, on_output=on_output
    )

    assert result.result == "succeeded"
    assert seen[-1] == "end"  # escape codes removed
    assert all(len(line) <= 4096 for line in seen)  # a huge line is never forwarded whole
    lines = result.output_tail.splitlines()
    assert len(result.output_tail) <= 500
    assert all(len(line) <= 200 for line in lines)
    assert lines[-1] == "end"


async def test_cancelling_the_run_stops_the_command(tmp_path: Path) -> None:
    script(
        tmp_path,
        "deploy.sh",
        '#!/bin/sh\nsleep 60 &\necho $! > "$(dirname "$0")/child.pid"\necho started\nwait\n',
    )
    deployer = CommandDeployer(
        run_as_root=True, config=config(tmp_path, deploy=DEFAULT_ARGV), secrets=[]
    )
    started = asyncio.Event()

    async def on_output(line: str) -> None:
        started.set()

    task = asyncio.create_task(
        deployer.run(plan=PLAN, idempotency_key="k", fencing_token=1, on_output=on_output)
    )
    await asyncio.wait_for(started.wait(), timeout=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    child = int((tmp_path / "scripts" / "child.pid").read_text())
    assert await wait_dead(child)


async def test_status_command_gets_the_key_and_the_same_minimal_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1-2-status")
    script(
        tmp_path,
        "status.sh",
        '#!/bin/sh\necho "asked about $1 ${REDIS_URL:-no-redis} ${SLACK_BOT_TOKEN:-no-slack}"\n'
        "exit 3\n",
    )
    cfg = Config.model_validate(
        {
            "services": {
                "backend": {
                    "repo": "repos/backend",
                    "deploy": DEFAULT_ARGV,
                    "status": ["./scripts/status.sh", "{idempotency_key}"],
                    "environments": ["staging"],
                },
                "frontend": {"repo": "r", "deploy": DEFAULT_ARGV, "environments": ["staging"]},
            },
            "environments": {"staging": {}},
            "base_dir": tmp_path,
        }
    )
    deployer = CommandDeployer(run_as_root=True, config=cfg, secrets=[])

    result = await deployer.status(plan=PLAN, idempotency_key="t1:beef", fencing_token=4)
    none = await deployer.status(
        plan=PLAN.model_copy(update={"service": "frontend"}), idempotency_key="k", fencing_token=1
    )

    assert result is not None
    assert (result.result, result.exit_code) == ("failed", 3)
    assert result.output_tail == "asked about t1:beef no-redis no-slack"
    assert none is None


def test_pass_env_naming_a_variable_of_the_bot_is_a_config_error(tmp_path: Path) -> None:
    """Refused when the config is read (so check-config says it), before any deployer."""
    with pytest.raises(ValidationError, match=r"pass_env: REDIS_URL is deploybot's own"):
        config(tmp_path, deploy=DEFAULT_ARGV, pass_env=["KUBECONFIG", "REDIS_URL"])
