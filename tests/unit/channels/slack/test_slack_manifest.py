"""The Slack app manifest asks for exactly the scopes and events the code uses."""

import re
from pathlib import Path

import channels.slack

ROOT = Path(__file__).resolve().parents[4]
SOURCES = Path(channels.slack.__file__).parent

# Each Web API method the channel calls, and the bot scope it needs (None: no scope).
SCOPE_OF = {
    "auth_test": None,
    "chat_postMessage": "chat:write",
    "chat_postEphemeral": "chat:write",
    "chat_update": "chat:write",
    "views_open": None,
    "views_publish": None,
}
# Each event subscription, and the scope Slack requires for it.
EVENTS = {
    "app_home_opened": None,
    "app_mention": "app_mentions:read",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.im": "im:history",
}


def listed(manifest: str, key: str) -> set[str]:
    """The items of the YAML list under ``key:`` (a flat list of scalars)."""
    block = re.search(rf"^(\s*){re.escape(key)}:\n((?:\1\s+- .*\n)+)", manifest, re.MULTILINE)
    assert block, f"no list under {key}"
    return {line.strip()[2:] for line in block.group(2).splitlines()}


def test_the_manifest_asks_for_what_the_code_uses() -> None:
    manifest = (ROOT / "slack-manifest.yml").read_text()
    code = "\n".join(p.read_text() for p in SOURCES.rglob("*.py"))
    called = set(re.findall(r"\._client\.(\w+)\(", code))
    assert called == set(SCOPE_OF), "a new Web API method: add it (and its scope) here"
    assert listed(manifest, "bot_events") == set(EVENTS)
    needed = {s for s in (*SCOPE_OF.values(), *EVENTS.values()) if s} | {"commands"}
    assert listed(manifest, "bot") == needed
    assert 'app.event("app_mention")' in code
    assert 'app.event("message")' in code
    assert 'app.event("app_home_opened")' in code
    assert "home_tab_enabled: true" in manifest  # the App Home's tab (channels/slack/home/view.py)
    assert "- command: /deploy" in manifest
    assert 'command: str = "/deploy"' in code
    urls = re.findall(r"(?:url|request_url): (\S+)", manifest)
    assert len(urls) == 3
    assert all(url.endswith("/slack/events") for url in urls)
