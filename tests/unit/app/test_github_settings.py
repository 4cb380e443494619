"""The GitHub workflow settings: how often a run is polled, how long its dispatch may take to
show a run, how long a cancelled run may take to end. Each is a number of seconds above 0,
refused in one line naming it; a short find window is warned about by check-config and at the
start of the processes that deploy."""

from pathlib import Path
from typing import Any

import pytest

from bot.app.findings.preflight import findings, refusal
from bot.app.settings import Settings, load_settings
from bot.core.config.config import parse_config
from bot.core.errors import ConfigError

NAMES = ["DEPLOYBOT_GITHUB_POLL_S", "DEPLOYBOT_GITHUB_FIND_S", "DEPLOYBOT_GITHUB_CANCEL_WAIT_S"]

CONFIG = """
[services.{name}]
repo = "r"
deploy = {deploy}
environments = ["staging"]
[environments.staging]
"""
WORKFLOW = '{ github_workflow = "acme/web/.github/workflows/deploy.yml" }'


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (n.upper() for n in Settings.model_fields):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    settings = load_settings()
    assert settings.deploybot_github_poll_s == 5
    assert settings.deploybot_github_find_s == 120
    assert settings.deploybot_github_cancel_wait_s == 300


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("0", "expected a number of seconds above 0"),
        ("-3", "expected a number of seconds, 0 or more"),
        ("two minutes", "expected a number of seconds, 0 or more"),
        ("inf", "expected a number of seconds, 0 or more"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, says: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == f"bad environment: {name}={value!r}: {says}"


@pytest.mark.parametrize("name", NAMES)
def test_an_empty_value_means_the_default(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, " ")
    assert getattr(load_settings(), name.lower()) == getattr(Settings(), name.lower())


def _found(find_s: str, deploy: str, **values: Any) -> list[str]:
    settings = Settings.model_validate({"deploybot_github_find_s": find_s, **values})
    config = parse_config(CONFIG.format(name="web", deploy=deploy), base_dir=Path("."))
    found = findings(settings, config)
    assert refusal(found, "worker") is None  # a warning: it starts
    return [f.text for f in found if f.text.startswith("DEPLOYBOT_GITHUB_FIND_S")]


def test_a_short_find_window_is_warned_about_where_workflows_deploy() -> None:
    [warning] = _found("10", WORKFLOW, github_token="ghp_x")
    assert warning.startswith("DEPLOYBOT_GITHUB_FIND_S=10 is short")
    assert "holds web as an unknown outcome for a person" in warning
    assert _found("30", WORKFLOW, github_token="ghp_x") == []
    assert _found("10", '["./deploy.sh"]') == []  # no workflow: nothing to find
