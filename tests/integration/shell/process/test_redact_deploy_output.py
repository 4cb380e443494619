"""A real deploy command prints a secret across the deployer's 64 KiB cut: no piece shows."""

from pathlib import Path

from bot.core.wording.redact import MASK
from bot.shell.process.command_deployer import CommandDeployer
from tests.integration.shell.process.test_deployer import DEFAULT_ARGV, PLAN, config, script

KNOWN = "Zq7-known-deploy-secret-Vb4"


def _pieces(text: str, secret: str, *, chars: int = 4) -> list[str]:
    return [
        secret[i : i + chars]
        for i in range(len(secret) - chars + 1)
        if secret[i : i + chars] in text
    ]


async def test_a_secret_cut_by_the_output_tail_leaks_no_piece(tmp_path: Path) -> None:
    # One 560 KB line of the secret back to back, never ended: wherever the deployer cuts
    # the output to its last 64 KiB, the cut falls inside a copy of the secret, and the
    # start of the kept text (what the result shows) is the end of that copy.
    script(
        tmp_path,
        "deploy.sh",
        f"#!/bin/sh\nyes '{KNOWN}' | head -n 20000 | tr -d '\\n'\n",
    )
    deployer = CommandDeployer(
        run_as_root=True, config=config(tmp_path, deploy=DEFAULT_ARGV), secrets=[KNOWN]
    )
    seen: list[str] = []

    async def on_output(line: str) -> None:
        seen.append(line)

    result = await deployer.run(
        plan=PLAN, idempotency_key="k", fencing_token=1, on_output=on_output
    )

    assert result.result == "succeeded"
    assert MASK in result.output_tail  # the giant line is shown, masked
    assert _pieces(result.output_tail, KNOWN) == []
    assert _pieces("\n".join(seen), KNOWN) == []
