"""Start-up rules about how the settings fit together, in one place.

``findings`` is pure: it returns what is wrong or risky with a set of settings (and the
config). ``deploybot check-config`` prints every finding; each long-running command prints
the ones that concern it, and refuses to start on a finding that ``refuses`` it (one line,
exit 2). What a finding is: ``bot.app.findings.finding``. Whether release policy can work as
configured is judged in ``bot.app.findings.release``, how Redis keeps what it acknowledged in
``bot.app.findings.durability``, what deployed code could reach in ``bot.app.findings.exposure``.
"""

from bot.app.findings.finding import SERVICES, Finding, refusal
from bot.app.findings.release import release_policy_findings
from bot.app.settings import Settings
from bot.core.config.config import Config
from bot.core.config.service import GithubWorkflow
from bot.core.policy.lock import releasers
from bot.core.policy.verification import ToVerify, verification_for
from bot.core.wording.verification import check_label

__all__ = [
    "SERVICES",
    "Finding",
    "findings",
    "refusal",
]

_HTTP = frozenset({"web", "run"})
_EMAIL = frozenset({"mail", "run"})

_GITHUB_FIND_S = 30  # below this, a run GitHub lists late is held as unknown too often


def _no_data_ignored(config: Config | None) -> list[Finding]:
    """A check that ignores no data passes a release that takes down what it watches: an
    explicit opt-out, warned about like the others."""
    if config is None:
        return []
    owners = [
        *((f"environments.{n}", env.checks) for n, env in config.environments.items()),
        *((f"services.{n}", svc.checks) for n, svc in config.services.items()),
    ]
    return [
        Finding(
            "warning",
            f'{owner}.checks[{i}] ({check_label(check)}): on_no_data = "ignore": a release '
            "that takes down what it watches passes this check (the verdict only says it saw "
            "no data)",
            warns=frozenset({"worker", "run"}),
        )
        for owner, checks in owners
        for i, check in enumerate(checks)
        if check.on_no_data == "ignore"
    ]


def findings(settings: Settings, config: Config | None = None) -> list[Finding]:
    """Every problem, warning and note of these settings (and config), in a stable order."""
    return [
        *_no_data_ignored(config),
        *_slack(settings),
        *_secrets(settings, config),
        *_email(settings),
        *_github(settings, config),
        *_release(config),
        *release_policy_findings(settings, config),
    ]


def _release(config: Config | None) -> list[Finding]:
    """Where verification can quarantine a version, someone must be able to release it."""
    if config is None:
        return []
    found = []
    for name in config.environments:
        verified = any(
            name in svc.environments
            and isinstance(verification_for(config, service=s, environment=name), ToVerify)
            for s, svc in config.services.items()
        )
        if verified and not releasers(config, environment=name):
            found.append(
                Finding(
                    "warning",
                    f"environments.{name}: a failed verification quarantines a version there, "
                    "but nobody may release one (no release_by, no approvers): add "
                    f'release_by = ["<name from [people]>"] to [environments.{name}]',
                    warns=frozenset({"worker", "run"}),
                )
            )
    return found


def _github(settings: Settings, config: Config | None) -> list[Finding]:
    """A service deployed by a GitHub workflow needs credentials to dispatch it, and time for
    GitHub to list the run a dispatch started."""
    if config is None:
        return []
    workflows = sorted(
        name
        for name, svc in config.services.items()
        if any(isinstance(t, GithubWorkflow) for t in (svc.deploy, svc.rollback))
    )
    app = (
        settings.github_app_id,
        settings.github_app_private_key,
        settings.github_app_installation_id,
    )
    found = []
    if workflows and settings.deploybot_github_find_s < _GITHUB_FIND_S:
        found.append(
            Finding(
                "warning",
                f"DEPLOYBOT_GITHUB_FIND_S={settings.deploybot_github_find_s:g} is short: GitHub "
                "can list a dispatched run tens of seconds after the dispatch, and a run not "
                f"seen within it holds {', '.join(workflows)} as an unknown outcome for a "
                f"person (default 120, at least {_GITHUB_FIND_S})",
                warns=frozenset({"worker", "run"}),
            )
        )
    if not workflows or settings.github_token is not None or all(v is not None for v in app):
        return found
    return [
        *found,
        Finding(
            "problem",
            f"services {', '.join(workflows)} deploy through a GitHub workflow, but neither "
            "GITHUB_TOKEN nor a GitHub App (GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY, "
            "GITHUB_APP_INSTALLATION_ID) is set: their deploys would fail",
            warns=SERVICES,
        ),
    ]


def _slack(settings: Settings) -> list[Finding]:
    signed = settings.slack_signing_secret is not None
    if settings.slack_mode == "http" and not signed:
        return [
            Finding(
                "problem",
                "SLACK_BOT_TOKEN is set but SLACK_SIGNING_SECRET is not: Slack's requests to "
                "/slack/events could not be verified, so anyone could post as any Slack user; "
                "set SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN for Socket Mode)",
                refuses=_HTTP,
            )
        ]
    return []


def _secrets(settings: Settings, config: Config | None) -> list[Finding]:
    found = []
    reply, hook = settings.deploybot_secret, settings.deploybot_webhook_secret
    if (
        reply is not None
        and hook is not None
        and reply.get_secret_value() == (hook.get_secret_value())
    ):
        found.append(
            Finding(
                "problem",
                "DEPLOYBOT_WEBHOOK_SECRET equals DEPLOYBOT_SECRET: whoever signs webhooks "
                "could also sign reply tokens and links (approvals); never share "
                "DEPLOYBOT_SECRET with another system, give webhooks their own secret",
                refuses=SERVICES,
            )
        )
    if config is not None and config.webhooks and hook is None:
        names = ", ".join(sorted(config.webhooks))
        found.append(
            Finding(
                "problem",
                f"webhooks ({names}) are configured but DEPLOYBOT_WEBHOOK_SECRET is not set: "
                "POST /v1/webhooks/... answers 503 until it is",
                warns=_HTTP,
            )
        )
    return found


def _email(settings: Settings) -> list[Finding]:
    if not settings.email_configured:
        return []
    found = []
    if settings.dmarc_required and settings.email_authserv_id is None:
        found.append(
            Finding(
                "problem",
                "EMAIL_AUTHSERV_ID is required with email: an emailed request or decision "
                "counts only when our own receiving server's Authentication-Results "
                "(that authserv-id) says dmarc=pass; set it to that server's name "
                "(EMAIL_REQUIRE_DMARC=false opts out, and is not safe)",
                refuses=_EMAIL,
            )
        )
    if settings.email_require_dmarc is False:
        found.append(
            Finding(
                "warning",
                "EMAIL_REQUIRE_DMARC=false: emailed requests and approvals are trusted on "
                "their From header alone, which anyone can forge",
                warns=_EMAIL,
            )
        )
    if (settings.smtp_username is None) != (settings.smtp_password is None):
        given, missing = (
            ("SMTP_USERNAME", "SMTP_PASSWORD")
            if settings.smtp_password is None
            else ("SMTP_PASSWORD", "SMTP_USERNAME")
        )
        found.append(
            Finding(
                "problem",
                f"{given} is set but {missing} is not: SMTP login needs both (or neither)",
                refuses=_EMAIL,
            )
        )
    return found
