import pytest

from bot.redact import MASK, SECRET_ENV_NAMES, compact_tail, redact, strip_ansi, without_secrets

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
        ("DB_PASSWORD='s3 cr3t' ok", [], f"DB_PASSWORD={MASK} ok"),
        ('api_key = "abc def"', [], f"api_key = {MASK}"),
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


def test_without_secrets_drops_own_names_and_secret_values() -> None:
    env = {name: "x" for name in SECRET_ENV_NAMES} | {
        "PATH": "/bin",
        "OTHER": SECRET,
        "SHORT": "ab",
    }
    assert without_secrets(env, secrets=[SECRET, "ab"]) == {"PATH": "/bin", "SHORT": "ab"}
