"""The real logger (``configure_logging``) writes no secret, whatever a record carries."""

import json
import logging
import sys
from collections.abc import Iterator

import pytest

from bot.core.wording.redact import MASK
from bot.shell.runtime.logs import MAX_FIELD_CHARS, configure_logging, current_thread
from tests.unit.core.wording.test_redact import FORMATS

SETTINGS_SECRET = "settings-secret-Qw3rTy-0987"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _lines(err: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in err.splitlines() if line.strip()]


@pytest.mark.parametrize(("name", "text", "hidden"), FORMATS, ids=[f[0] for f in FORMATS])
@pytest.mark.usefixtures("restore_logging")
def test_json_lines_redact_message_and_extra(
    name: str, text: str, hidden: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(level="INFO", json_lines=True, secrets=[SETTINGS_SECRET])
    log = logging.getLogger("deploybot.test")
    log.info("deploy output: %s", text)
    log.info("nested", extra={"output": {"lines": [text, SETTINGS_SECRET]}, "raw": text})
    err = capsys.readouterr().err
    records = _lines(err)  # every line is still JSON
    assert [r["message"] for r in records] == [records[0]["message"], "nested"]
    assert MASK in err
    for part in [*hidden, SETTINGS_SECRET]:
        assert part not in err, f"{name}: {part!r} reached the log"


@pytest.mark.usefixtures("restore_logging")
def test_json_lines_mask_extra_by_its_key_traceback_and_stack(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(level="INFO", json_lines=True, secrets=[SETTINGS_SECRET])
    log = logging.getLogger("deploybot.test")
    token = current_thread.set("t-1")
    try:
        raise RuntimeError(f"login failed with {SETTINGS_SECRET} and password=pw-in-error")
    except RuntimeError:
        log.exception("failed", extra={"password": "pw-by-key", "count": 3}, stack_info=True)
    finally:
        current_thread.reset(token)
    err = capsys.readouterr().err
    (record,) = _lines(err)
    assert record["thread"] == "t-1"
    assert record["password"] == MASK
    assert record["count"] == 3
    assert "RuntimeError" in str(record["error"])
    assert "stack" in record
    for part in (SETTINGS_SECRET, "pw-in-error", "pw-by-key"):
        assert part not in err


@pytest.mark.usefixtures("restore_logging")
def test_plain_text_logs_are_redacted_too(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="INFO", json_lines=False, secrets=[SETTINGS_SECRET])
    logging.getLogger("deploybot.test").warning(
        "connect redis://:pw-17@cache:6379 with %s", SETTINGS_SECRET
    )
    err = capsys.readouterr().err
    assert "deploybot.test: connect redis://" in err
    assert "pw-17" not in err
    assert SETTINGS_SECRET not in err


@pytest.mark.usefixtures("restore_logging")
def test_a_huge_message_is_cut_after_redaction(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="INFO", json_lines=True, secrets=[SETTINGS_SECRET])
    # The secret straddles the field limit: cut first, its start would be written.
    message = "x" * (MAX_FIELD_CHARS - 10) + SETTINGS_SECRET + "y" * 100
    logging.getLogger("deploybot.test").info(message)
    err = capsys.readouterr().err
    (record,) = _lines(err)
    assert len(str(record["message"])) <= MAX_FIELD_CHARS
    assert SETTINGS_SECRET[:8] not in err


def test_logger_writes_to_the_stream_it_was_given(restore_logging: None) -> None:
    # configure_logging binds sys.stderr when called (what the processes write to).
    configure_logging(level="INFO", json_lines=True, secrets=[])
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    assert handler.stream is sys.stderr


@pytest.mark.usefixtures("restore_logging")
def test_a_circular_extra_is_written_not_raised(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="INFO", json_lines=True, secrets=[SETTINGS_SECRET])
    loop: dict[str, object] = {"token": SETTINGS_SECRET}
    loop["self"] = loop
    logging.getLogger("deploybot.test").info("loop", extra={"state": loop})
    err = capsys.readouterr().err
    (record,) = _lines(err)
    assert record["message"] == "loop"
    assert SETTINGS_SECRET not in err
