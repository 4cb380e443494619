"""docs/release-policy.md holds together with the code: its one example is
docs/release-policy.toml word for word, loads, sets every release policy key and has no
release policy finding; the check-config lines it shows for the example with three mistakes
are the ones check-config makes."""

import re
from pathlib import Path

from bot.app.findings.finding import Finding
from bot.app.findings.release import release_policy_findings
from bot.app.settings import Settings
from bot.core.config.config import Config, parse_config
from bot.core.config.environment import Environment
from bot.core.config.freeze import Freeze

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "release-policy.md"
EXAMPLE = ROOT / "docs" / "release-policy.toml"

RELEASE_KEYS = {"requires", "soak_s", "soak_override_by", "queue_max", "announce"}
PREFIX = {"info": "ok", "warning": "warning", "problem": "problem"}
# The mistakes the page describes: frontend only in production, nobody may skip the soak,
# nobody may break the holidays' glass.
MISTAKES = [
    ('environments = ["staging", "production"]  # what goes', 'environments = ["production"]  #'),
    ('soak_override_by = ["alice"]', "soak_override_by = []"),
    ('break_glass = ["alice"]         # inside both', "break_glass = []  #"),
]


def page_blocks(kind: str) -> list[str]:
    return re.findall(rf"^```{kind}\n(.*?)^```$", PAGE.read_text(encoding="utf-8"), re.S | re.M)


def load(text: str) -> Config:
    return parse_config(text, base_dir=ROOT / "docs")


def test_the_page_shows_the_example_file_as_it_is() -> None:
    assert page_blocks("toml") == [EXAMPLE.read_text(encoding="utf-8")]


def test_the_example_sets_every_release_policy_key() -> None:
    config = load(EXAMPLE.read_text(encoding="utf-8"))
    environments = set[str]().union(*(e.model_fields_set for e in config.environments.values()))
    assert environments >= RELEASE_KEYS, RELEASE_KEYS - environments
    assert set(Environment.model_fields) >= RELEASE_KEYS
    freezes = set[str]().union(*(f.model_fields_set for f in config.freezes))
    assert freezes == set(Freeze.model_fields), set(Freeze.model_fields) - freezes
    assert config.schedules
    assert config.schedules[0].report_to is not None


def test_the_example_has_no_release_policy_finding() -> None:
    config = load(EXAMPLE.read_text(encoding="utf-8"))
    settings = Settings.model_validate({"slack_bot_token": "xoxb-1", "slack_app_token": "xapp-1"})
    assert release_policy_findings(settings, config) == []


def test_the_mistakes_shown_are_what_check_config_says() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for before, after in MISTAKES:
        assert text.count(before) == 1, before
        text = text.replace(before, after)
    settings = Settings.model_validate({"slack_bot_token": "xoxb-1", "slack_app_token": "xapp-1"})
    found: list[Finding] = release_policy_findings(settings, load(text))
    assert len(found) == len(MISTAKES)
    shown = next(block for block in page_blocks("") if block.startswith("ok: config "))
    lines = shown.splitlines()
    for finding in found:
        assert f"{PREFIX[finding.level]}: {finding.text}" in lines, finding.text
