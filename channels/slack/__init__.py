"""The Slack channel: mentions, DMs, /deploy, approval buttons, replies in the same thread."""
