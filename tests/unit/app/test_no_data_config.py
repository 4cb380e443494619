"""on_no_data in the config file: "fail" by default, "ignore" only when written, a bad value
named by its key, and every check that ignores no data warned about by check-config and at
the start of the processes that verify (worker, run)."""

from pathlib import Path

import pytest

from bot.app.findings.check import check_config
from bot.app.findings.preflight import findings
from bot.app.settings import Settings
from bot.core.config.config import Config, parse_config
from bot.core.errors import ConfigError

BASE = """
prometheus_url = "http://127.0.0.1:9090"

[services.backend]
repo = "repos/backend"
deploy = ["./deploy.sh", "{version}"]
environments = ["production"]
checks = [{ command = ["./smoke.sh"], on_no_data = "ignore" }]

[environments.production]
verify_s = 60
checks = [
  { http = "https://api.example.com/healthz" },
  { prometheus = "sum(rate(errors_total[5m]))", below = 1, ON_NO_DATA },
]
"""


def config(on_no_data: str = "") -> Config:
    text = BASE.replace(", ON_NO_DATA", f", on_no_data = {on_no_data}" if on_no_data else "")
    return parse_config(text, base_dir=Path("/srv"))


def test_no_data_fails_unless_a_check_says_otherwise() -> None:
    env = config().environments["production"]
    assert [c.on_no_data for c in env.checks] == ["fail", "fail"]
    assert config().services["backend"].checks[0].on_no_data == "ignore"
    assert config('"ignore"').environments["production"].checks[1].on_no_data == "ignore"


@pytest.mark.parametrize("value", ['"skip"', '""', "true", '"IGNORE"'])
def test_a_bad_on_no_data_is_named_by_its_key(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config(value)
    message = str(caught.value)
    assert "environments.production.checks[1].prometheus.on_no_data: " in message, message
    assert "'fail' or 'ignore'" in message
    assert message.count(";") == 0  # one error, not one per kind of check


def test_a_table_that_is_no_check_says_which_keys_make_one() -> None:
    text = BASE.replace('{ http = "https://api.example.com/healthz" }', '{ url = "https://x/" }')
    with pytest.raises(ConfigError, match=r"environments\.production\.checks\[0\]: a check has "):
        parse_config(text.replace(", ON_NO_DATA", ""), base_dir=Path("/srv"))


def test_every_check_that_ignores_no_data_is_warned_about() -> None:
    found = [f for f in findings(Settings(), config('"ignore"')) if "on_no_data" in f.text]
    assert [f.text.split(" (")[0] for f in found] == [
        "environments.production.checks[1]",
        "services.backend.checks[0]",
    ]
    assert all(f.level == "warning" and f.warns == {"worker", "run"} for f in found)
    assert "prometheus sum(rate(errors_total[5m]))" in found[0].text
    assert "a release that takes down what it watches passes this check" in found[0].text
    only_service = [f.text for f in findings(Settings(), config()) if "on_no_data" in f.text]
    assert [text.split(" (")[0] for text in only_service] == ["services.backend.checks[0]"]


def test_check_config_prints_the_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "deploybot.toml"
    path.write_text(BASE.replace(", ON_NO_DATA", ""))
    monkeypatch.delenv("REDIS_URL", raising=False)
    check_config(Settings(deploybot_config=str(path), redis_url=None))
    out = capsys.readouterr().out
    assert (
        'warning: services.backend.checks[0] (command ./smoke.sh): on_no_data = "ignore"' in out
    ), out
