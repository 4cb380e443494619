"""The README and docs/ hold together: every link resolves, every setting is documented once.

- Every relative link in README.md and docs/*.md names a file that exists, and its
  ``#anchor`` (also a bare ``#anchor`` into the same page) is the GitHub slug of a heading in
  that file. Links inside code (fenced blocks, inline spans) are text, not links.
- Every file of this repository a page names in code (`bot/...`, `tests/...py::test_name`)
  exists, and so does the named test: a moved module or a renamed test leaves no stale name.
- Every setting of the contract has exactly one reference entry: a table row whose first
  cell is the setting's name, in docs/configuration.md, under "Environment variables" (each
  field of ``bot.app.settings.Settings``) or "Config file keys" (each field of the config
  models, qualified by where it sits: ``environments.<name>.approval``). No other row there,
  and no row for a setting on another page: other pages mention a setting and link here.

.env.example naming every variable is ``tests/unit/app/test_settings.py``'s test.
"""

import re
import typing
from collections import Counter
from pathlib import Path

import pytest
from pydantic import BaseModel

from bot.app.settings import Settings
from bot.core.config.config import Config, Environment, Freeze, Person, Schedule, Webhook
from bot.core.config.service import (
    CommandCheck,
    GithubWorkflow,
    HttpCheck,
    PrometheusCheck,
    Service,
)

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
REFERENCE = ROOT / "docs" / "configuration.md"

# Where each config model's keys sit in the file, as the reference names them. A model
# reachable from Config but missing here fails test_every_config_model_has_a_place.
PLACES: dict[type[BaseModel], str] = {
    Config: "",
    Person: "people.<name>.",
    Service: "services.<name>.",
    GithubWorkflow: "services.<name>.deploy.",
    Environment: "environments.<name>.",
    HttpCheck: "checks[].",
    CommandCheck: "checks[].",
    PrometheusCheck: "checks[].",
    Schedule: "schedules[].",
    Freeze: "freezes[].",
    Webhook: "webhooks.<name>.",
}
# Set by the loader (the config file's folder), never written in the file.
NOT_IN_THE_FILE = {"base_dir"}

_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
_LINK = re.compile(r"\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_ROW_KEY = re.compile(r"^\|\s*`([^`]+)`\s*\|")
_REPO_PATH = re.compile(
    r"`((?:bot|agents|channels|tests|bench|scripts|\.ci)/[\w./{},-]*)(?:::(\w+))?`"
)


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks."""
    lines, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text (code, links and emphasis rendered), lower
    case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = text.replace("`", "").replace("*", "")
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading's anchor in a page, with GitHub's -1, -2 for repeated ones."""
    seen: Counter[str] = Counter()
    found = set()
    for line in prose_lines(page.read_text(encoding="utf-8")):
        match = _HEADING.match(line)
        if match:
            base = slug(match.group(2))
            found.add(f"{base}-{seen[base]}" if seen[base] else base)
            seen[base] += 1
    return found


def links(page: Path) -> list[str]:
    """The link targets of a page's prose (not inside code)."""
    out = []
    for line in prose_lines(page.read_text(encoding="utf-8")):
        out += _LINK.findall(_CODE_SPAN.sub("", line))
    return out


def broken_links(page: Path) -> list[str]:
    """What is wrong with each relative link of a page, one line per broken link."""
    broken = []
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:: not ours to check
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{page.name}: {target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{page.name}: {target}: no heading #{anchor} in {file.name}")
    return broken


def stale_paths(page: Path) -> list[str]:
    """The repository paths (and ``path::test``) a page's prose names that do not exist."""
    stale = []
    for line in prose_lines(page.read_text(encoding="utf-8")):
        for path, test in _REPO_PATH.findall(line):
            head, brace, rest = path.partition("{")
            choices, _, tail = rest.partition("}")
            paths = [head + c + tail for c in choices.split(",")] if brace else [path]
            for one in paths:
                file = ROOT / one
                if not file.exists():
                    stale.append(f"{page.name}: {one}: no such file")
                elif test and not re.search(rf"def {test}\(", file.read_text(encoding="utf-8")):
                    stale.append(f"{page.name}: {one}::{test}: no such test")
    return stale


def row_keys(lines: list[str]) -> list[str]:
    """The first cells of table rows that name one thing in code: the reference entries."""
    return [m.group(1) for line in lines if (m := _ROW_KEY.match(line))]


def section(page: Path, title: str) -> list[str]:
    """The prose lines of the level-2 section ``## title``, up to the next level-2 one."""
    lines = prose_lines(page.read_text(encoding="utf-8"))
    start = lines.index(f"## {title}") + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    return lines[start:end]


def models_in(annotation: object) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds (through lists, dicts, unions, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found += models_in(arg)
    return found


def reachable_models() -> set[type[BaseModel]]:
    todo: list[type[BaseModel]] = [Config]
    seen: set[type[BaseModel]] = set()
    while todo:
        model = todo.pop()
        if model not in seen:
            seen.add(model)
            for field in model.model_fields.values():
                todo += models_in(field.annotation)
    return seen


def environment_variables() -> list[str]:
    return sorted(name.upper() for name in Settings.model_fields)


def config_keys() -> list[str]:
    keys = {
        PLACES[model] + (field.alias or name)  # as written in the file: `from`, not `from_`
        for model in reachable_models()
        for name, field in model.model_fields.items()
        if name not in NOT_IN_THE_FILE
    }
    return sorted(keys)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    assert links(page) or page.name != "README.md", "the README links to the docs"
    assert broken_links(page) == []


def test_the_link_check_finds_a_broken_file_and_a_broken_anchor(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other page\n\n## Fencing `through` data loss\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n## It's *here*, twice\n\n## It's here, twice\n\n"
        "[ok](other.md#fencing-through-data-loss) [ok](#its-here-twice-1) [ok](other.md)\n"
        "[gone](missing.md) [bad anchor](other.md#fencing) [bad](#nowhere)\n"
        "`[in code](missing.md)` <https://example.com> [web](https://example.com/x#y)\n"
        "```\n[in a block](missing.md)\n```\n"
    )
    assert broken_links(page) == [
        "page.md: missing.md: no such file",
        "page.md: other.md#fencing: no heading #fencing in other.md",
        "page.md: #nowhere: no heading #nowhere in page.md",
    ]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_file_and_test_a_page_names_exists(page: Path) -> None:
    assert stale_paths(page) == []


def test_the_path_check_finds_a_moved_file_and_a_renamed_test(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "`tests/unit/test_docs.py::test_slugs_are_githubs` `bot/core/loop/next_step.py`\n"
        "`tests/unit/test_{docs,layout}.py` `bot/core/next_step.py`\n"
        "`tests/unit/test_{docs,gone}.py`\n"
        "`tests/unit/test_docs.py::test_that_was_renamed`\n"
    )
    assert stale_paths(page) == [
        "page.md: bot/core/next_step.py: no such file",
        "page.md: tests/unit/test_gone.py: no such file",
        "page.md: tests/unit/test_docs.py::test_that_was_renamed: no such test",
    ]


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Fencing through data loss", "fencing-through-data-loss"),
        ('"Outcome unknown", resolved where it can be', "outcome-unknown-resolved-where-it-can-be"),
        ("For the mail admin: the MX", "for-the-mail-admin-the-mx"),
        ("Deploy targets: a command or a workflow", "deploy-targets-a-command-or-a-workflow"),
        ("The core: `bot/core/`", "the-core-botcore"),
        ("/healthz", "healthz"),
        ("Built on what is live?", "built-on-what-is-live"),
        ("Schedules: `[[schedules]]`", "schedules-schedules"),
        ("A [linked](x.md) *word*", "a-linked-word"),
    ],
)
def test_slugs_are_githubs(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def differences(rows: list[str], expected: list[str]) -> dict[str, list[str]]:
    """What keeps ``rows`` from naming each expected setting exactly once."""
    return {
        "undocumented": sorted(set(expected) - set(rows)),
        "not a setting": sorted(set(rows) - set(expected)),
        "repeated": sorted(key for key, n in Counter(rows).items() if n > 1),
    }


NONE: dict[str, list[str]] = {"undocumented": [], "not a setting": [], "repeated": []}


def test_every_environment_variable_has_one_reference_row() -> None:
    rows = row_keys(section(REFERENCE, "Environment variables"))

    assert differences(rows, environment_variables()) == NONE


def test_every_config_key_has_one_reference_row() -> None:
    rows = row_keys(section(REFERENCE, "Config file keys"))

    assert differences(rows, config_keys()) == NONE


def test_every_config_model_has_a_place() -> None:
    """A new table in the config file (a model reachable from Config) is named here, so its
    keys are checked too."""
    assert reachable_models() <= set(PLACES)


def test_the_reference_is_the_only_page_with_a_row_for_a_setting() -> None:
    settings = set(environment_variables()) | set(config_keys())
    elsewhere = {
        f"{page.relative_to(ROOT)}: {key}"
        for page in PAGES
        if page != REFERENCE
        for key in row_keys(prose_lines(page.read_text(encoding="utf-8")))
        if key in settings
    }
    assert elsewhere == set()


def test_the_setting_lists_come_from_the_code() -> None:
    """The lists compared above are read from the models, not written out here."""
    assert "SLACK_SIGNING_SECRET" in environment_variables()
    assert "DEPLOYBOT_LOCK_TTL_MS" in environment_variables()
    assert "environments.<name>.approval" in config_keys()
    assert "services.<name>.deploy.key_input" in config_keys()
    assert "checks[].on_no_data" in config_keys()
    assert "freezes[].from" in config_keys()
    assert "base_dir" not in config_keys()
    assert len(environment_variables()) == len(Settings.model_fields)


def test_a_missing_or_repeated_setting_is_caught(tmp_path: Path) -> None:
    """The row check itself: a reference missing one variable, or naming one twice, differs."""
    rows = [f"| `{name}` | | |" for name in environment_variables()]
    page = tmp_path / "configuration.md"
    page.write_text("## Environment variables\n\n" + "\n".join(rows[1:] + rows[-1:]) + "\n")

    found = row_keys(section(page, "Environment variables"))

    assert differences(found, environment_variables()) == {
        "undocumented": [environment_variables()[0]],
        "not a setting": [],
        "repeated": [environment_variables()[-1]],
    }
