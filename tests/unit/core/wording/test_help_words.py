"""The help text (``bot.core.wording.messages.help_text``) lists what the command grammar
accepts: every form it shows, filled in, is an exact command, the release policy's deploy
suffixes and ``cancel`` included."""

from pathlib import Path

import pytest

from bot.core.config.config import parse_config
from bot.core.reading.commands import CancelCommand, DeployCommand
from bot.core.reading.grammar import parse_command
from bot.core.wording.messages import help_text

CONFIG = parse_config(
    """
[services.backend]
repo = "repos/backend"
deploy = ["./deploy.sh", "{version}"]
environments = ["staging", "production"]
[environments.staging]
[environments.production]
""",
    base_dir=Path("/srv"),
)
FILLED = [  # (what the help shows, what a person types for it), in order
    ("deploy ...", "deploy backend v1.4.2 to production"),
    ("<service>", "backend"),
    ("<environment>", "production"),
    ("[version]", "v1.4.2"),
    ("[to <version>]", "to v1.4.1"),
    ("<version>", "v1.4.2"),
    ("[plan id]", "3f2a"),
    ("<reason>", "INC-42 login outage"),
]


def forms() -> list[str]:
    """Every command form the help shows, one per alternative, with its note left off."""
    lines = help_text(CONFIG).splitlines()[1:-1]  # between the heading and the names
    out = []
    for line in lines:
        for form in line.split("   (")[0].split(" | "):
            for shown, typed in FILLED:
                form = form.replace(shown, typed)
            out.append(form.strip())
    return out


@pytest.mark.parametrize("form", forms())
def test_every_form_in_the_help_is_an_exact_command(form: str) -> None:
    assert parse_command(form, services=["backend"], environments=["staging", "production"])


def test_the_help_shows_the_release_policy_forms() -> None:
    parsed = [parse_command(f, services=["backend"], environments=["production"]) for f in forms()]
    deploys = [p for p in parsed if isinstance(p, DeployCommand)]
    assert [d for d in deploys if d.when_ready]
    assert [d for d in deploys if d.skip_soak == "INC-42 login outage"]
    assert [d for d in deploys if d.break_glass == "INC-42 login outage"]
    assert CancelCommand(plan_id="3f2a") in parsed
    assert help_text(CONFIG).endswith("Services: backend. Environments: production, staging.")
