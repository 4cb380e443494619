"""The issue's hostile commit subjects (issue 15.2), shown by every channel (golden files).

Each subject is a tag's commit subject as git gives it: it becomes the plan's subject and a
commit of the evidence, and the same text arrives as an email subject, a person's message,
a model's answer and a deploy's output (tests/unit/outside_channels.py). The golden files
``tests/unit/golden/outside_<case>.txt`` show what each writer makes of it: the terminal, the
Slack message text and blocks, the approval email (Subject, text, HTML), the HTTP API's JSON,
the log lines and the prompt. Regenerate them after an intended change with
``UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/core/thread/test_outside_golden.py`` and review
the diff.
"""

import json
import os
from pathlib import Path

import pytest

from tests.unit.core.thread.test_outside_writers import texts
from tests.unit.outside_channels import Rendered, through_types

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
PLAN_LINE = 'bot> Plan #{id}: backend v1.4.2 (4f2c9a1, "{subject}") -> production (now v1.4.1).'

CASES = {
    # ESC[2K erases the line, ESC[1G goes to its start: a forged plan is drawn over the real
    # one; ESC[8m hides everything after it.
    "forged_plan_line": (
        "fix login timeout\x1b[2K\x1b[1Gbot> Plan #e6da: backend v1.0.1 (1a2b3c4) -> "
        "production (now v1.4.1).\x1b[8m"
    ),
    # RIGHT-TO-LEFT OVERRIDE: the rest shows reversed ("roll back to v1.0.1 production").
    "bidi_reversed": "fix login \u202enoitcudorp 1.0.1v ot kcab llor\u202c timeout",
    # Slack's control syntax and formatting, and HTML.
    "slack_syntax": "<!channel> <@U0ALICE> <https://evil.example|approve here> *urgent* `x <b>",
}


def rendered(out: Rendered) -> str:
    api = json.dumps(json.loads(out.api_json)["approval"], indent=2, ensure_ascii=True)
    blocks = json.dumps(out.slack_blocks, indent=2, ensure_ascii=False)
    sections = {
        "terminal": out.terminal,
        "slack message text": out.slack_text + "\n",
        "slack blocks": blocks + "\n",
        "email subject": out.email_subject + "\n",
        "email text": out.email_text,
        "email html": out.email_html,
        "api json (approval)": api + "\n",
        "log json": out.log_json + "\n",
        "log plain": out.log_plain + "\n",
        "prompt": out.prompt,
    }
    return "".join(f"== {name} ==\n{text}\n" for name, text in sections.items())


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_subject_matches_golden(name: str) -> None:
    text = rendered(through_types(CASES[name]))
    assert "\x1b" not in text
    assert "\u202e" not in text
    assert "\x9b" not in text
    path = GOLDEN / f"outside_{name}.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path}; run with UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8"), f"output differs from {path}"


def test_the_forged_line_stays_inside_the_real_plan_line() -> None:
    out = through_types(CASES["forged_plan_line"])
    lines = out.terminal.splitlines()
    forged = (
        "fix login timeoutbot> Plan #e6da: backend v1.0.1 (1a2b3c4) -> production (now v1.4.1)."
    )
    assert lines[0].startswith("bot> Plan #")
    assert lines[0] == PLAN_LINE.format(id=lines[0][11:15], subject=forged)
    assert sum(line.startswith("bot> ") for line in lines) == 2  # the plan, the result
    assert "v1.0.1" not in out.email_subject.split("Plan")[0]


def test_slack_syntax_pings_nobody_and_links_nowhere() -> None:
    """In mrkdwn (and a message's text) it is escaped; where it is shown whole, it is
    ``plain_text``, which Slack never parses for mentions, links or formatting."""
    out = through_types(CASES["slack_syntax"])
    mrkdwn = "\n".join([*texts(out.slack_blocks, "mrkdwn"), out.slack_text])
    for syntax in ("<!channel>", "<@U0ALICE>", "<https://evil"):
        assert syntax not in mrkdwn
        assert all(syntax not in t for t in texts(out.slack_blocks, "button"))
    assert "&lt;!channel&gt;" in mrkdwn
    assert any("<!channel>" in t for t in texts(out.slack_blocks, "plain_text"))
    assert "<b>" not in out.email_html
    assert "&lt;b&gt;" in out.email_html
