"""Benchmark: what running a deploy command as another user costs (issue 15.1).

A benchmark, not a test: pytest never collects it. Run as root from the repository root:

    .venv/bin/python bench/run_as.py [--runs N]

The same supervised command (``/bin/true``) through ``CommandDeployer.run``, side by side in
one run: as the bot's own user (``DEPLOYBOT_RUN_COMMANDS_AS_ROOT``, what every deploy paid
before), and as ``nobody`` (the default for a root bot: the user's groups, gid and uid set
in the child, a private working folder made, handed over and removed by a child that is that
user again). Wall time per command and the worker's CPU per command.
"""

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bot.core.config.config import parse_config
from bot.core.thread.plan import Plan
from bot.shell.process.command_deployer import CommandDeployer

PLAN = Plan(
    kind="deploy",
    service="svc",
    environment="staging",
    version="v1",
    sha="0" * 40,
    requester="bench",
)


async def _run(deployer: CommandDeployer, runs: int) -> tuple[list[float], float]:
    walls: list[float] = []
    cpu_before = time.process_time()
    for i in range(runs):
        started = time.perf_counter()
        result = await deployer.run(plan=PLAN, idempotency_key=f"k{i}", fencing_token=i + 1)
        walls.append((time.perf_counter() - started) * 1000)
        if result.result != "succeeded":
            raise SystemExit(f"the command failed: {result.output_tail}")
    return walls, (time.process_time() - cpu_before) * 1000 / runs


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: only root can run commands as another user")
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)  # nobody runs /bin/true from here
        config = parse_config(
            '[services.svc]\nrepo = "r"\ndeploy = ["/bin/true"]\nenvironments = ["staging"]\n'
            "[environments.staging]\n",
            base_dir=Path(tmp),
        )
        rows = []
        for label, as_root in (("as the bot's user (before)", True), ("as nobody (now)", False)):
            deployer = CommandDeployer(config=config, secrets=[], run_as_root=as_root)
            await _run(deployer, 10)  # warm up
            walls, cpu_ms = await _run(deployer, args.runs)
            walls.sort()
            p95 = walls[int(len(walls) * 0.95) - 1]
            rows.append((label, statistics.median(walls), p95, cpu_ms))
    print(f"{args.runs} supervised /bin/true commands each, Python {sys.version.split()[0]}")
    print(f"{'command runs':<28} | {'median ms':>9} | {'p95 ms':>7} | {'worker CPU ms':>13}")
    for label, median, p95, cpu in rows:
        print(f"{label:<28} | {median:9.1f} | {p95:7.1f} | {cpu:13.2f}")


if __name__ == "__main__":
    asyncio.run(main())
