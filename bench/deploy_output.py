"""Benchmark: the worker CPU a deploy command's output costs (issue 10.7).

A benchmark, not a test: pytest never collects it. Run from the repository root:

    .venv/bin/python bench/deploy_output.py [--mb 50] [--target-cpu-s 0.5]

A deploy script prints ``--mb`` MB of short lines (each with a credential-shaped token) and
a last line; ``CommandDeployer.run`` runs it with an ``on_output`` callback, as the worker
does. Prints the worker's CPU time (``time.process_time`` around the call), the wall time,
the callbacks made and the redacted tail; exits 1 when the CPU time is over the target.
Measured on the project machines (2 shared cores): before the bounded tail 12.2 s of CPU
for 50 MB (every line decoded, redacted and forwarded in Python); after, about 0.15 s.
"""

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from bot.core.config.config import Config
from bot.core.thread.plan import Plan
from bot.shell.process.command_deployer import CommandDeployer

LINE = "building layer 42: ok, password=hunter22 done"


async def measure(folder: Path, mb: int) -> tuple[float, float, int, str]:
    script = folder / "deploy.sh"
    lines = mb * 1_000_000 // (len(LINE) + 1)
    script.write_text(f"#!/bin/sh\nyes '{LINE}' | head -n {lines}\necho end token=abc123\n")
    script.chmod(0o755)
    config = Config.model_validate(
        {
            "services": {
                "backend": {"repo": "r", "deploy": ["./deploy.sh"], "environments": ["staging"]}
            },
            "environments": {"staging": {}},
            "base_dir": folder,
        }
    )
    plan = Plan(
        kind="deploy",
        service="backend",
        environment="staging",
        version="v1",
        sha="0" * 40,
        previous_version=None,
        requester="bench",
    )
    callbacks = 0

    async def on_output(line: str) -> None:
        nonlocal callbacks
        callbacks += 1

    deployer = CommandDeployer(run_as_root=True, config=config, secrets=[])
    cpu_s, wall_s = time.process_time(), time.monotonic()
    result = await deployer.run(
        plan=plan, idempotency_key="k", fencing_token=1, on_output=on_output
    )
    cpu_s, wall_s = time.process_time() - cpu_s, time.monotonic() - wall_s
    if result.result != "succeeded":
        raise SystemExit(f"the deploy {result.result}: {result.output_tail}")
    return cpu_s, wall_s, callbacks, result.output_tail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--target-cpu-s", type=float, default=0.5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        cpu_s, wall_s, callbacks, tail = asyncio.run(measure(Path(folder), args.mb))
    print(
        f"{args.mb} MB of output: worker CPU {cpu_s:.2f} s, wall {wall_s:.2f} s, "
        f"{callbacks} on_output calls"
    )
    print("tail:", tail.splitlines()[-2:])
    return 0 if cpu_s <= args.target_cpu_s else 1


if __name__ == "__main__":
    sys.exit(main())
