"""The environment a deploy, rollback or status command gets: an allowlist, never the bot's.

Code from the repository being deployed runs with this environment, so it must not be able
to act as the bot (its Redis, its tokens) or as a person. A command gets only:

- a few harmless variables of the bot's own environment (``ALLOWED_NAMES`` and ``LC_*``):
  where programs are, whose home, language, time zone, temporary folder;
- the deploy variables (``DEPLOY_VARIABLES``) that describe the plan being run;
- the variables the service's ``pass_env`` names, when the bot's environment sets them
  (non-empty), except the bot's own (``is_bot_owned``) and any whose value is one of the
  bot's secrets.

Nothing else: no ``REDIS_URL``, no ``DEPLOYBOT_*`` settings, no Slack, mail, Anthropic or
GitHub credentials, no cloud credentials unless ``pass_env`` names them.

``tool_env`` is the same allowlist for the bot's own tools (git): they run as the bot's user
and can be read by a command of that user while they run, so they get no secret either.

Who runs the command is ``bot.core.config.principal``'s decision. The bot's environment
comes in as a ``Mapping`` from the shell (``os.environ`` there): nothing here reads it.
"""

from collections.abc import Iterable, Mapping

__all__ = [
    "ALLOWED_NAMES",
    "DEPLOY_VARIABLES",
    "child_env",
    "is_bot_owned",
    "refused_pass_env",
    "tool_env",
]

#: Taken from the bot's environment when set: harmless facts about the machine and user.
ALLOWED_NAMES = frozenset(
    {"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR"}
)
_ALLOWED_PREFIXES = ("LC_",)

#: What the deployer tells a command about the plan; a command always gets all of them.
DEPLOY_VARIABLES = (
    "DEPLOYBOT_IDEMPOTENCY_KEY",
    "DEPLOYBOT_FENCING_TOKEN",
    "DEPLOYBOT_KIND",
    "DEPLOYBOT_SERVICE",
    "DEPLOYBOT_VERSION",
    "DEPLOYBOT_ENVIRONMENT",
    "DEPLOYBOT_SHA",
    "DEPLOYBOT_PREVIOUS_VERSION",
)

# Variables the bot itself reads (its store, its identity on every channel, its settings,
# and the deploy variables it sets): ``pass_env`` cannot hand them to a command. Every
# DEPLOYBOT_* name is the bot's (a setting added later is covered without a list to keep),
# except DEPLOYBOT_DEMO_*: the demo scripts' knobs.
_BOT_PREFIXES = (
    "DEPLOYBOT_",
    "REDIS_",
    "SLACK_",
    "SMTP_",
    "IMAP_",
    "EMAIL_",
    "ANTHROPIC_",
    "GITHUB_",
)
_PASSABLE_PREFIXES = ("DEPLOYBOT_DEMO_",)
_BOT_NAMES = frozenset({"PORT", *DEPLOY_VARIABLES})
_MIN_SECRET_CHARS = 4  # as bot.core.wording.redact: shorter values are not treated as secrets
_DEFAULT_PATH = "/bin:/usr/bin"  # POSIX ``os.defpath``: a command still finds sh and env


def is_bot_owned(name: str) -> bool:
    """True for a variable deploybot reads itself (or sets for the command)."""
    upper = name.upper()
    if upper.startswith(_PASSABLE_PREFIXES):
        return False
    return upper in _BOT_NAMES or upper.startswith(_BOT_PREFIXES)


def refused_pass_env(pass_env: Iterable[str]) -> list[str]:
    """The names in ``pass_env`` that a command may never get (for config validation)."""
    return [name for name in pass_env if is_bot_owned(name)]


def _allowed(name: str) -> bool:
    return name in ALLOWED_NAMES or name.startswith(_ALLOWED_PREFIXES)


def child_env(
    parent: Mapping[str, str],
    *,
    deploy: Mapping[str, str],
    pass_env: Iterable[str] = (),
    secrets: Iterable[str] = (),
) -> dict[str, str]:
    """The whole environment of a command, from the bot's environment ``parent``.

    ``deploy`` holds the deploy variables (every name must be in ``DEPLOY_VARIABLES``);
    ``secrets`` are values that must never reach a command, whatever variable holds them.
    """
    unknown = sorted(set(deploy) - set(DEPLOY_VARIABLES))
    if unknown:
        raise ValueError(f"not deploy variables: {', '.join(unknown)}")
    hidden = {s for s in secrets if len(s) >= _MIN_SECRET_CHARS}
    env = {name: value for name, value in parent.items() if _allowed(name) and value}
    for name in pass_env:
        value = parent.get(name, "")
        if value and not is_bot_owned(name) and value not in hidden:
            env[name] = value
    env = {name: value for name, value in env.items() if value not in hidden}
    env.setdefault("PATH", _DEFAULT_PATH)
    env.update(deploy)
    return env


#: What git (and ssh under it) may need besides the allowlist: how to reach a remote.
_TOOL_NAMES = frozenset(
    {
        "SSH_AUTH_SOCK",
        "GIT_SSH",
        "GIT_SSH_COMMAND",
        "GIT_ASKPASS",
        "GIT_CONFIG_GLOBAL",
        "GIT_CONFIG_NOSYSTEM",
        "GIT_SSL_CAINFO",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
    }
)


def tool_env(parent: Mapping[str, str], *, secrets: Iterable[str] = ()) -> dict[str, str]:
    """The environment of one of the bot's own tools (git): the allowlist and what reaches a
    remote, never a variable the bot owns nor one whose value is a secret."""
    hidden = {s for s in secrets if len(s) >= _MIN_SECRET_CHARS}
    env = {
        name: value
        for name, value in parent.items()
        if (_allowed(name) or name in _TOOL_NAMES)
        and value
        and not is_bot_owned(name)
        and value not in hidden
    }
    env.setdefault("PATH", _DEFAULT_PATH)
    return env
