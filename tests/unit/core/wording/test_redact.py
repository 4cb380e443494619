import json

import pytest

from bot.core.wording.redact import (
    MASK,
    compact_tail,
    redact,
    strip_ansi,
)
from bot.core.wording.secret_shapes import SHAPES

SECRET = "hunter2-very-secret"


@pytest.mark.parametrize(
    ("text", "secrets", "expected"),
    [
        ("nothing to hide", [SECRET], "nothing to hide"),
        (f"pw is {SECRET}!", [SECRET], f"pw is {MASK}!"),
        (f"{SECRET}{SECRET}", [SECRET], f"{MASK}{MASK}"),
        ("a1b2 and abc", ["a1b2", "abc", ""], f"{MASK} and abc"),  # <4 chars ignored
        ("longer-secret", ["longer", "longer-secret"], MASK),  # longest wins
        ("a.b*c", ["a.b*c"], MASK),  # regex characters are literal
        ("token xoxb-1234-5678-abcdef here", [], f"token {MASK} here"),
        ("xoxp-1-2-3 xoxa-9 xoxr-x xoxs-y", [], f"{MASK} {MASK} {MASK} {MASK}"),
        ("app xapp-1-A0-123-abc", [], f"app {MASK}"),
        ("key sk-ant-api03-AbC_d-e", [], f"key {MASK}"),
        ("gh ghp_" + "a" * 36, [], f"gh {MASK}"),
        ("Authorization: Bearer abc.def-ghi", [], f"Authorization: Bearer {MASK}"),
        ("authorization: bearer abc123", [], f"authorization: bearer {MASK}"),
        ("password=hunter2 next", [], f"password={MASK} next"),
        ("DB_PASSWORD='s3 cr3t' ok", [], f"DB_PASSWORD='{MASK}' ok"),  # quotes stay
        ('api_key = "abc def"', [], f'api_key = "{MASK}"'),
        ("SLACK_BOT_TOKEN=abc;x=1", [], f"SLACK_BOT_TOKEN={MASK};x=1"),
        ("GET /cb?secret=abc&page=2", [], f"GET /cb?secret={MASK}&page=2"),
        ("tokens=5 keys=3", [], "tokens=5 keys=3"),
        (
            "clone https://deploy:s3cr@t@git.example.com/acme/x.git",
            [],
            f"clone https://{MASK}@git.example.com/acme/x.git",
        ),
        ("https://ghp_token@github.com/a/b", [], f"https://{MASK}@github.com/a/b"),
        ("redis://:pw@host:6379/0", [], f"redis://{MASK}@host:6379/0"),
        ("redis://user:pw@host:6379/0", [], f"redis://{MASK}@host:6379/0"),
        ("https://host:8443/path", [], "https://host:8443/path"),
        ("ssh://git@github.com/a/b", [], "ssh://git@github.com/a/b"),
        (f"already {MASK}", [MASK], f"already {MASK}"),
    ],
)
def test_redact(text: str, secrets: list[str], expected: str) -> None:
    assert redact(text, secrets=secrets) == expected


def test_redact_is_idempotent() -> None:
    text = f"password={SECRET} Bearer xyz https://u:p@h/ {SECRET}"
    once = redact(text, secrets=[SECRET])
    assert SECRET not in once
    assert redact(once, secrets=[SECRET]) == once


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\x1b[31mred\x1b[0m plain", "red plain"),
        ("\x1b]0;title\x07after", "after"),
        ("10%\r50%\r100% done", "100% done"),
        ("windows\r\nline\r\n", "windows\nline\n"),
        ("tab\tstays\nnew line", "tab\tstays\nnew line"),
        ("bell\x07 nul\x00", "bell nul"),
    ],
)
def test_strip_ansi(text: str, expected: str) -> None:
    assert strip_ansi(text) == expected


@pytest.mark.parametrize(
    ("text", "kwargs", "expected"),
    [
        ("", {}, ""),
        ("\n\n  \n", {}, ""),
        ("one\ntwo\n", {}, "one\ntwo"),
        ("1\n2\n3\n4\n5\n6\n7\n", {}, "3\n4\n5\n6\n7"),
        ("1\n\n2\n\n3\n", {"max_lines": 2}, "2\n3"),
        ("\x1b[32mok\x1b[0m   \n", {}, "ok"),
        ("x" * 300, {}, "x" * 199 + "…"),
        ("aaaa\nbbbb\ncccc", {"max_chars": 9}, "bbbb\ncccc"),
        ("abcdefghij", {"max_chars": 5}, "abcd…"),
        ("a\nb", {"max_lines": 0}, ""),
    ],
)
def test_compact_tail(text: str, kwargs: dict[str, int], expected: str) -> None:
    assert compact_tail(text, **kwargs) == expected


def test_compact_tail_bounds_hold_for_any_size() -> None:
    text = "\n".join(f"line {i} " + "y" * (i * 37 % 400) for i in range(500))
    out = compact_tail(text, max_lines=5, max_chars=500)
    assert len(out) <= 500
    assert len(out.splitlines()) <= 5
    assert out.splitlines()[-1].startswith("line 499")


# -- every credential format the audit found (issue 9 item 7) --------------------------
# Each case: (format, text, the parts that must not survive). Token bodies are made here,
# not copied from anywhere: they only have to have the documented shape.
_B36 = "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
_PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\nq3Zb0xYkL9mN2pR5sT8uV1wX4yZ7"
FORMATS: list[tuple[str, str, list[str]]] = [
    ("json password", '{"password": "hunter2-json", "user": "deploy"}', ["hunter2-json"]),
    ("json api_key no space", '{"api_key":"k3y-value-123"}', ["k3y-value-123"]),
    ("json escaped quote", r'{"secret": "a\"b-secret-val"}', ["b-secret-val"]),
    ("yaml token", "slack:\n  token: yaml-token-value\n  channel: ops", ["yaml-token-value"]),
    ("yaml quoted", "db_password: 'yaml pass phrase'", ["yaml pass phrase", "phrase"]),
    ("yaml spaces", "smtp_password: correct horse battery", ["correct", "battery"]),
    ("python repr", "{'password': 'repr-pass-1'}", ["repr-pass-1"]),
    ("env file", "export DB_PASSWORD=env-pass-2\nHOST=db", ["env-pass-2"]),
    ("MYSQL_PWD", "MYSQL_PWD=mysql-pwd-3 mysql -u root", ["mysql-pwd-3"]),
    ("PGPASSWORD", "PGPASSWORD='pg pass' psql", ["pg pass"]),
    ("ruby hash", 'api_key => "ruby-key-4"', ["ruby-key-4"]),
    ("url query", "GET /hook?access_token=qs-token-5&page=2", ["qs-token-5"]),
    ("authorization basic", "Authorization: Basic ZGVwbG95Omh1bnRlcjI=", ["ZGVwbG95Omh1bnRlcjI"]),
    ("authorization bearer", "authorization: Bearer eyabc.def-ghi", ["eyabc.def-ghi"]),
    ("authorization digest", 'Authorization: Digest username="u", response="d1g35t"', ["d1g35t"]),
    ("curl header", "curl -H 'Authorization: token gh-raw-6' https://x", ["gh-raw-6"]),
    ("json header", '{"Authorization": "Basic dXNlcjpwYXNz"}', ["dXNlcjpwYXNz"]),
    ("proxy authorization", "Proxy-Authorization: Basic cHJveHk6cHc=", ["cHJveHk6cHc"]),
    ("cookie", "Cookie: session=c00kie-value-7; theme=dark", ["c00kie-value-7"]),
    ("bearer alone", "sent Bearer abc123def456", ["abc123def456"]),
    ("--password x", "docker login --password flag-pass-8 registry", ["flag-pass-8"]),
    ("--password=x", "mysqldump --password=flag-pass-9 db", ["flag-pass-9"]),
    ("--api-key quoted", 'tool --api-key "flag key 10"', ["flag key 10"]),
    ("--token", "gh auth --with-token tok-11 done", ["tok-11"]),
    ("mysql -p attached", "mysql -u root -pattached-pw-12 shop", ["attached-pw-12"]),
    ("curl -u", "curl -u deploy:curl-pw-13 https://x", ["curl-pw-13"]),
    (
        "pem rsa",
        f"key:\n-----BEGIN RSA PRIVATE KEY-----\n{_PEM_BODY}\n-----END RSA PRIVATE KEY-----\nok",
        ["MIIEvQIBADAN", "q3Zb0xYkL9mN"],
    ),
    (
        "pem pkcs8 in json",
        '{"k": "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADAN\\nq3Zb0xYk\\n'
        '-----END PRIVATE KEY-----"}',
        ["MIIEvQIBADAN", "q3Zb0xYk"],
    ),
    (
        "pem openssh cut off",
        f"-----BEGIN OPENSSH PRIVATE KEY-----\n{_PEM_BODY}",
        ["MIIEvQIBADAN", "q3Zb0xYkL9mN"],
    ),
    (
        "pem begin cut off",
        f"{_PEM_BODY}\n-----END PRIVATE KEY-----\nnext",
        ["MIIEvQIBADAN", "q3Zb0xYkL9mN"],
    ),
    (
        "pgp private key",
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBGXpgpbody\n"
        "-----END PGP PRIVATE KEY BLOCK-----",
        ["lQOYBGXpgpbody"],
    ),
    ("aws access key id", "aws: AKIAZ7Q2EXAMPLE0KEYS configured", ["AKIAZ7Q2EXAMPLE0KEYS"]),
    ("aws session key id", "id=ASIAZ7Q2EXAMPLE0KEYS", ["ASIAZ7Q2EXAMPLE0KEYS"]),
    ("aws secret in ini", "aws_secret_access_key = wJalr/XUtnFEMI+K7MDENG", ["wJalr/XUtnFEMI"]),
    (
        "gitlab pat",
        "push with glpat-Ab12Cd34Ef56Gh78Ij90",
        ["glpat-Ab12Cd34Ef56Gh78Ij90", "Ab12Cd34"],
    ),
    ("gitlab deploy token", "gldt-Zz9Yy8Xx7Ww6Vv5Uu4Tt3", ["Zz9Yy8Xx7Ww6Vv5Uu4Tt3"]),
    ("npm token", f"//registry/:_authToken=npm_{_B36}", [_B36]),
    ("npm token alone", f"using npm_{_B36} now", [_B36]),
    (
        "slack webhook",
        "POST https://hooks.slack.com/services/T0AAA/B0BBB/XyZ123secretpath",
        ["T0AAA/B0BBB", "XyZ123secretpath"],
    ),
    ("slack bot token", "xoxb-1234-5678-AbCdEf", ["1234-5678-AbCdEf"]),
    ("slack user token", "xoxp-1-2-3-abc", ["1-2-3-abc"]),
    ("slack app token", "xapp-1-A0-123-abcdef", ["A0-123-abcdef"]),
    ("slack refresh token", "xoxe.xoxp-1-Mi0yLTEy", ["Mi0yLTEy"]),
    ("github classic", f"ghp_{_B36}", [_B36]),
    ("github oauth", f"token gho_{_B36}", [_B36]),
    ("github server", f"ghs_{_B36}!", [_B36]),
    ("github fine-grained", f"github_pat_11ABCDEFG0_{_B36}", [_B36, "11ABCDEFG0"]),
    ("anthropic", "ANTHROPIC key sk-ant-api03-AbC_d-eFgH1234", ["AbC_d-eFgH1234"]),
    ("openai style", f"sk-proj-{_B36}", [_B36]),
    ("stripe", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", ["4eC39HqLyjWDarjtT1zdp7dc"]),
    ("jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl", ["eyJzdWIiOiIxMjM0In0"]),
    ("url user:pass", "https://deploy:s3cr3t-url@git.example.com/x", ["s3cr3t-url"]),
    ("url token user", f"https://x-access:ghp_{_B36}@github.com/a", [_B36]),
    ("redis url", "redis://:redis-pw-14@cache:6379/0", ["redis-pw-14"]),
    ("amqp url", "amqp://user:amqp-pw-15@mq/vhost", ["amqp-pw-15"]),
]


@pytest.mark.parametrize(("name", "text", "hidden"), FORMATS, ids=[f[0] for f in FORMATS])
def test_redact_masks_every_format(name: str, text: str, hidden: list[str]) -> None:
    out = redact(text, secrets=[])
    assert MASK in out
    for part in hidden:
        assert part not in out, f"{name}: {part!r} survived in {out!r}"
    assert redact(out, secrets=[]) == out  # idempotent: redacting twice changes nothing


NEGATIVES = [
    "Merge pull request #42 from acme/fix-login-form",
    "deploy backend v1.4.2 to production",
    "sha 9c3c85c1f0e2d4b6a8c0e2f4a6b8d0c2e4f6a8b0 resolved",
    "add password reset page",
    "rotate the token cache every 5m",
    "tokens=5 keys=3 secrets_found=0",
    "token_file=/run/secrets/t path",
    "mkdir -p /srv/app && docker run -p 8080:80 app",
    "git push -u origin main",
    "https://host:8443/path?page=2",
    "ssh://git@github.com/acme/app.git",
    "basic auth is disabled",
    "PWD=/srv/app",
    "Step 4/12 : RUN pip install -r requirements.txt",
    "2026-05-04T10:11:12Z INFO took 1.2s (p99 3.4ms)",
    "see https://hooks.example.com/services/x",
    "task-runner finished: 12 tasks, 0 failed",
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_redact_leaves_ordinary_text_alone(text: str) -> None:
    assert redact(text, secrets=[SECRET]) == text


def test_every_shape_names_where_its_format_is_documented() -> None:
    names = [shape.name for shape in SHAPES]
    assert len(names) == len(set(names))
    assert all(shape.documented and shape.hints for shape in SHAPES)
    # every hint is lower case: they are looked for in the lowered text
    assert all(hint == hint.lower() for shape in SHAPES for hint in shape.hints)


def test_masked_json_stays_json() -> None:
    text = json.dumps({"password": "pw-16", "nested": {"api_key": "k-17"}, "n": 1})
    out = json.loads(redact(text, secrets=[]))
    assert out == {"password": MASK, "nested": {"api_key": MASK}, "n": 1}


# -- a secret cut in two (the deployer splits lines longer than 64 KiB) ------------------
CUT_CHARS = 64 * 1024
KNOWN = "xK9-known-secret-value-7Qz"


def _leaks(text: str, secret: str, *, min_chars: int = 4) -> list[str]:
    return [
        secret[i : i + min_chars]
        for i in range(len(secret) - min_chars + 1)
        if secret[i : i + min_chars] in text
    ]


@pytest.mark.parametrize("at", range(1, len(KNOWN)))
def test_known_secret_split_at_the_cut_leaks_no_piece(at: int) -> None:
    line = "y" * (CUT_CHARS - at) + KNOWN + " tail of the line"
    head, tail = line[:CUT_CHARS], line[CUT_CHARS:]
    assert KNOWN not in head
    assert KNOWN not in tail
    out = redact(head, secrets=[KNOWN]) + "\n" + redact(tail, secrets=[KNOWN])
    # Pieces shorter than 4 characters cannot be told from ordinary text; longer ones never show.
    assert _leaks(out, KNOWN) == []


@pytest.mark.parametrize("at", [5, 12, 30])
def test_token_start_at_the_cut_is_masked(at: int) -> None:
    token = f"ghp_{_B36}"
    head = ("z " * CUT_CHARS)[: CUT_CHARS - at - 1] + " " + token[:at]
    assert token[:at] not in redact(head, secrets=[])


def test_compact_tail_redacts_before_it_cuts() -> None:
    line = "x" * 190 + " password=" + "p" * 40  # the cut at 200 falls inside the value
    out = compact_tail(line, secrets=[])
    assert "ppp" not in out
    known = "known-secret-" + "k" * 30
    out = compact_tail("w" * 180 + known, secrets=[known])
    assert _leaks(out, known) == []
