"""The shapes of credentials: one table (``SHAPES``) of named patterns that
``bot.core.wording.redact.redact`` masks, each with where its format is documented, and the start of
a token cut off at a text's end (``CUT_TOKEN``).

The table covers provider tokens (Slack, GitHub, GitLab, npm, AWS, Anthropic, ...), PEM
private keys, ``Authorization``/``Cookie`` headers, URLs with user info, and
``password=...``/``"token": "..."``/``--password x`` in their JSON, YAML, shell and
command-line spellings. Patterns that can meet an already masked value match ``MASK``
whole, so redacting twice changes nothing.

No maintained pattern library fits: detect-secrets (the best known) is built to flag lines in
a repository, not to mask text (its private-key rule matches only the BEGIN line, its npm rule
only ``.npmrc`` lines, it knows no Anthropic, ``github_pat_`` or ``xapp-`` tokens, and it pulls
in ``requests``), so the table is ours and says where each format is specified.
"""

import re
from typing import NamedTuple

__all__ = ["CUT_TOKEN", "MASK", "SHAPES", "Shape"]

#: What a masked value becomes (``bot.core.wording.redact`` writes it; the shapes recognise it).
MASK = "[REDACTED]"


class Shape(NamedTuple):
    """One kind of credential: the ``value`` group of ``pattern`` is masked (a quoted value
    keeps its quotes, so JSON stays JSON). ``hints`` are lower-case strings of which one is
    in any text the pattern can match: texts with none are not searched (speed)."""

    name: str
    pattern: re.Pattern[str]
    hints: tuple[str, ...]
    documented: str


_I = re.IGNORECASE
_M = re.escape(MASK)
_QUOTED = r"\"(?:[^\"\\\n]|\\.)*\"|'[^'\n]*'"
# A key that names a secret; it must END the key: "tokens=5" and "token_file=x" are not.
_KEY = (
    r"(?:password|passwd|passphrase|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|_pwd)"
)
_KEY_HINTS = ("pass", "secret", "token", "key", "_pwd")
# name="value", name=value, ... (RFC 9110 §11.2 auth-params: Digest, AWS4-HMAC-SHA256)
_AUTH_PARAMS = r"(?:[\w-]+=(?:\"[^\"\r\n]*\"|[^\s,\"']*)[ \t]*,?[ \t]*)+"
_GITLAB = ("glpat", "gldt", "glrt", "glcbt", "glptt", "glft", "glimt", "glagent", "gloas", "glsoat")


def _shape(name: str, regex: str, hints: tuple[str, ...], documented: str, flags: int = 0) -> Shape:
    pattern = re.compile(regex, flags)
    if "value" not in pattern.groupindex:  # the whole match is the secret
        pattern = re.compile(f"(?P<value>{regex})", flags)
    return Shape(name, pattern, hints, documented)


#: Every credential shape, applied in this order after the known secret values.
SHAPES: tuple[Shape, ...] = (
    _shape(
        "pem_private_key",  # also a block whose END was cut off: masked to the text's end
        r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
        r"(?:.*?-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|[^\"']*)",
        ("private key",),
        "RFC 7468 (PEM, PKCS#8), OpenSSH PROTOCOL.key, RFC 4880 §6.2 (PGP armor)",
        re.DOTALL,
    ),
    _shape(
        "pem_private_key_end",  # the body and END of a block whose BEGIN was cut off
        r"(?:[A-Za-z0-9+/=]+[ \t]*(?:\r?\n|\\n))+(?=-----END[A-Z0-9 ]*PRIVATE KEY)",
        ("private key",),
        "RFC 7468 §3 (the base64 lines before the END line; also JSON-escaped)",
    ),
    _shape(
        "putty_private_key",
        r"Private-Lines:[ \t]*\d+[ \t]*\r?\n(?P<value>(?:[A-Za-z0-9+/=]+[ \t]*(?:\r?\n|\Z))+)",
        ("private-lines",),
        "PuTTY manual, appendix C (PPK file format)",
    ),
    _shape(
        "authorization_header",  # Basic, Bearer, Digest, AWS4-HMAC-SHA256, a bare token...
        rf"(?=[aApP])\b(?:proxy-)?authorization[\"']?[ \t]*[:=][ \t]*[\"']?"
        rf"(?:[A-Za-z][\w-]*[ \t]+(?=\S))?(?P<value>{_M}|{_AUTH_PARAMS}|[^\"'\r\n]+)",
        ("authorization",),
        "RFC 9110 §11.6.2, RFC 7617 (Basic), RFC 6750 (Bearer)",
        _I,
    ),
    _shape(
        "bearer_token",
        r"\bbearer[ \t]+(?P<value>[A-Za-z0-9._~+/=-]+)",
        ("bearer",),
        "RFC 6750 §2.1 (b64token)",
        _I,
    ),
    _shape(
        "cookie_header",
        rf"\b(?:set-)?cookie[\"']?[ \t]*:[ \t]*[\"']?(?P<value>{_M}|[^\"'\r\n]+)",
        ("cookie",),
        "RFC 6265 §4 (Cookie, Set-Cookie)",
        _I,
    ),
    _shape(
        "url_userinfo",  # scheme://user:pass@host
        r"(?<=[a-zA-Z0-9+.-])://(?P<value>[^/\s@:]*:[^/\s]*)@",
        ("://",),
        "RFC 3986 §3.2.1 (userinfo)",
    ),
    _shape(
        "http_url_user",  # https://<token>@github.com: a token passed as the user name
        r"://(?i:(?<=https://)|(?<=http://))(?P<value>[^/\s@:]+)@",
        ("://",),
        "RFC 3986 §3.2.1; GitHub docs, 'Cloning with HTTPS URLs'",
        _I,
    ),
    _shape(
        "slack_webhook_url",
        r"\bhttps://hooks\.slack(?:-gov)?\.com/(?P<value>(?:services|workflows|triggers)/[\w/-]+)",
        ("hooks.slack",),
        "Slack docs, 'Sending messages using incoming webhooks'",
        _I,
    ),
    _shape(
        "slack_token",  # xoxb- xoxp- xoxa- xoxr- xoxs- xoxe- xoxc- xoxd-, xoxe.xoxp- (refresh)
        r"\bxox[a-z](?:\.xox[a-z])?-[A-Za-z0-9-]+|\bxapp-[A-Za-z0-9-]+",
        ("xox", "xapp-"),
        "Slack docs, 'Token types'",
    ),
    _shape(
        "github_token",
        r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        "GitHub docs, 'About authentication to GitHub' (GitHub's token formats)",
    ),
    _shape(
        "gitlab_token",
        rf"(?=[gG])\b(?:{'|'.join(_GITLAB)})-[A-Za-z0-9_-]{{20,}}|\bGR1348941[A-Za-z0-9_-]{{20,}}",
        (*(f"{prefix}-" for prefix in _GITLAB), "gr1348941"),
        "GitLab docs, 'Token prefixes'",
    ),
    _shape(
        "npm_token",
        r"\bnpm_[A-Za-z0-9]{30,}",
        ("npm_",),
        "npm docs, 'About access tokens' (npm_ + 36 characters)",
    ),
    _shape(
        "aws_access_key_id",
        r"(?=A)\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b",
        ("akia", "asia", "abia", "acca"),
        "AWS IAM docs, 'IAM identifiers' (unique ID prefixes)",
    ),
    _shape(
        "anthropic_key",
        r"\bsk-ant-[A-Za-z0-9_-]+",
        ("sk-ant-",),
        "Anthropic docs, 'API keys' (sk-ant-api03-..., sk-ant-admin01-...)",
    ),
    _shape(
        "openai_style_key",
        r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
        ("sk-",),
        "OpenAI docs, 'API keys' (sk-, sk-proj-)",
    ),
    _shape(
        "stripe_key",
        r"\b[rsp]k_(?:live|test)_[0-9A-Za-z]{16,}",
        ("k_live_", "k_test_"),
        "Stripe docs, 'API keys'",
    ),
    _shape(
        "google_api_key",
        r"\bAIza[0-9A-Za-z_-]{35}",
        ("aiza",),
        "Google Cloud docs, 'API keys'",
    ),
    _shape(
        "jwt",
        r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
        ("eyj",),
        "RFC 7519 §3 (JWS compact serialization; a JSON header starts 'eyJ')",
    ),
    _shape(
        "secret_flag",  # --password x, --api-key "x y" (the --password=x spelling: below)
        rf"--[\w-]*(?:password|passwd|passphrase|secret|token|api-?key|access-key|private-key)"
        rf"[ \t]+(?P<value>{_QUOTED}|(?!-)\S+)",
        ("--",),
        "POSIX utility conventions; e.g. docker login --password, mysql --password",
        _I,
    ),
    _shape(
        "mysql_attached_password",  # mysql -pSECRET (-p alone prompts; -P is the port)
        r"(?=[mM])\b(?:mysql\w*|mariadb\w*)\b[^\n]*?[ \t]-p(?P<value>[^\s-]\S*)",
        ("mysql", "mariadb"),
        "MySQL manual, 'Command Options for Connecting to the Server' (--password, -p)",
        _I,
    ),
    _shape(
        "user_flag_password",  # curl -u user:pass, --user user:pass
        r"(?:^|[ \t])(?:-u|--user)[ \t=]+[^\s:]+:(?P<value>\S+)",
        ("-u",),
        "curl manual, -u/--user <user:password>",
        re.MULTILINE,
    ),
    _shape(
        # password=x, DB_PASSWORD='x', MYSQL_PWD=x, ?token=x, api_key => "x" (to a space);
        # "password": "x", token: x y (YAML: to the line's end), 'api_key': 'x' (repr)
        "key_value",
        rf"(?=[psktaPSKTA_]){_KEY}[\"']?[ \t]*(?:(?P<eq>=>|:=|=)|:)[ \t]*"
        rf"(?P<value>{_M}|{_QUOTED}|(?(eq)[^\s\"',;&]+"
        rf"|[^\s\"',}}\]=](?:[^\n\"',}}\]]*[^\s\"',}}\]])?))",
        _KEY_HINTS,
        "shell and .env assignments, URL queries (RFC 3986 §3.4), INI, JSON objects (RFC 8259),"
        " YAML 1.2 mappings, Python and Ruby literals",
        _I,
    ),
)

#: The start of a token whose end was cut off (only looked for near the end of a text).
CUT_TOKEN = re.compile(
    r"\b(?:xox[a-z]-|xapp-|gh[pousr]_|github_pat_|(?:gl[a-z]{2,6})-|npm_|sk-|[rsp]k_live_"
    r"|AIza|AKIA|ASIA|eyJ)[\w.-]*\Z"
)
