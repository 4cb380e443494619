"""Benchmark: what supervising a deploy command costs (issues 15.1 and 18.3).

A benchmark, not a test: pytest never collects it. Run as root from the repository root:

    .venv/bin/python bench/run_as.py [--runs N]

The same supervised command (``/bin/true``) through ``CommandDeployer.run``, its supervisor
forked by the worker's supervisor server (``forkserver``), side by side in one run, rounds
interleaved so that the machine's noise falls on both rows alike; who runs it: the bot's own
user (``DEPLOYBOT_RUN_COMMANDS_AS_ROOT``) or ``nobody`` (the default for a root bot: groups,
gid and uid set in the child, a private working folder made, handed over and removed: by
``rmdir`` when the command left it empty, else by a child that is that user again).

Per command: median and p95 wall time, the worker's CPU (this process, all its threads) and
the supervisors' own CPU (each supervisor's ``cpu`` status line and the server process's
own), never the command's. The "before" rows of docs/benchmark.md (one new interpreter per
command, before issue 18) were measured by this script when it still had that path; the
path is gone from the bot.
"""

import argparse
import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bot.core.config.config import parse_config
from bot.core.thread.plan import Plan
from bot.shell.process.command_deployer import CommandDeployer
from bot.shell.process.forkserver import SupervisorServer

PLAN = Plan(
    kind="deploy",
    service="svc",
    environment="staging",
    version="v1",
    sha="0" * 40,
    requester="bench",
)


@dataclass
class _Row:
    label: str
    deployer: CommandDeployer
    walls: list[float] = field(default_factory=list)
    worker_s: float = 0.0
    supervisor_s: float = 0.0


async def _run(row: _Row, server: SupervisorServer, runs: int) -> None:
    cpu_before = time.process_time()
    supervisor_before = server.cpu_s()
    for i in range(runs):
        started = time.perf_counter()
        result = await row.deployer.run(plan=PLAN, idempotency_key=f"k{i}", fencing_token=i + 1)
        row.walls.append((time.perf_counter() - started) * 1000)
        if result.result != "succeeded":
            raise SystemExit(f"the command failed: {result.output_tail}")
    row.worker_s += time.process_time() - cpu_before
    row.supervisor_s += server.cpu_s() - supervisor_before


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    logging.getLogger("bot").setLevel(logging.ERROR)  # "running /bin/true as root" each time
    if os.geteuid() != 0:
        raise SystemExit("run as root: only root can run commands as another user")
    server = SupervisorServer()
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)  # nobody runs /bin/true from here
        config = parse_config(
            '[services.svc]\nrepo = "r"\ndeploy = ["/bin/true"]\nenvironments = ["staging"]\n'
            "[environments.staging]\n",
            base_dir=Path(tmp),
        )
        rows = [
            _Row(label, CommandDeployer(config=config, secrets=[], run_as_root=as_root,
                 server=server))
            for as_root, label in ((True, "the bot's user"), (False, "nobody"))
        ]  # fmt: skip
        for row in rows:
            await _run(row, server, 10)  # warm up (the server starts here)
            row.walls.clear()
            row.worker_s = row.supervisor_s = 0.0
        per_round = max(args.runs // args.rounds, 1)
        for _ in range(args.rounds):
            for row in rows:
                await _run(row, server, per_round)
        await server.close()
    runs = per_round * args.rounds
    print(f"{runs} supervised /bin/true commands per row, Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    print(
        f"{'command runs as':<32} | {'median ms':>9} | {'p95 ms':>7} | "
        f"{'worker CPU ms':>13} | {'supervisor CPU ms':>17}"
    )
    for row in rows:
        walls = sorted(row.walls)
        p95 = walls[int(len(walls) * 0.95) - 1]
        print(
            f"{row.label:<32} | {statistics.median(walls):9.2f} | {p95:7.2f} | "
            f"{row.worker_s * 1000 / runs:13.2f} | {row.supervisor_s * 1000 / runs:17.2f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
