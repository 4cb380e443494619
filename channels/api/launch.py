"""Launching with release policy's typed fields: words the grammar reads, or nothing. Pure.

``POST /v1/threads`` may carry ``when_ready``, ``skip_soak`` and ``break_glass`` beside
``text``. An override is set only by the command grammar, from the words in the thread
(invariant 9), so the fields become words: ``launch_text``

1. takes ``text`` only if the grammar reads it as a deploy command exactly, with no suffix
   of its own (``... when ready`` in text and a field as well would say it twice);
2. checks each reason alone as the grammar would read it: one holding a word of negation,
   condition or hedging (``not``, ``if``, ``unless``, ``when``, ...), a symbol, or a
   conjunction at either end is refused, with a message that says to word it without them;
3. appends the suffix (``when ready`` / ``skip soak <reason>`` / ``break glass <reason>``)
   and parses the result again: it must read as the same deploy with exactly those
   overrides, and nothing else, or the launch is refused.

A refusal is a ``LaunchError`` whose message names the field; the channel answers ``422``
and launches nothing. The reasons are kept as typed, runs of spaces made one (as the
grammar keeps them).
"""

from pydantic import BaseModel, ConfigDict

from bot.core.config.config import Config
from bot.core.reading.commands import Command, DeployCommand
from bot.core.reading.grammar import parse_command
from bot.core.reading.suffixes import DeploySuffixes, read_suffixes

from .bodies import LaunchRequest

__all__ = ["LaunchError", "launch_text"]

_EXAMPLE = "deploy backend v1.4.2 to production"


class LaunchError(ValueError):
    """The typed fields cannot be said with this text; the message names the field."""


class _Overrides(BaseModel):
    """The typed fields, reasons normalised as the grammar returns them."""

    model_config = ConfigDict(frozen=True)

    when_ready: bool
    skip_soak: str | None
    break_glass: str | None

    def named(self) -> list[str]:
        return [
            name
            for name, value in (
                ("when_ready", self.when_ready),
                ("skip_soak", self.skip_soak),
                ("break_glass", self.break_glass),
            )
            if value
        ]

    def words(self) -> str:
        if self.when_ready:
            return "when ready"
        said = [
            f"{phrase} {reason}"
            for phrase, reason in (("skip soak", self.skip_soak), ("break glass", self.break_glass))
            if reason is not None
        ]
        return ", ".join(said)


def launch_text(*, body: LaunchRequest, config: Config) -> str:
    """The text to launch: ``body.text`` itself when no typed field is set, else the deploy
    command with its suffix. Raises ``LaunchError`` (see the module docstring)."""
    wanted = _Overrides(
        when_ready=body.when_ready,
        skip_soak=_plain(body.skip_soak),
        break_glass=_plain(body.break_glass),
    )
    named = wanted.named()
    if not named:
        return body.text
    fields = " and ".join(named)
    if wanted.when_ready and (wanted.skip_soak or wanted.break_glass):
        raise LaunchError(
            "when_ready: goes with neither skip_soak nor break_glass (a deploy that waits "
            "for its soak overrides nothing); send one or the other."
        )
    command = _parse(body.text, config)
    if not isinstance(command, DeployCommand):
        raise LaunchError(
            f"{fields}: only with a deploy command in text that deploybot reads exactly, "
            f"like '{_EXAMPLE}' (configured service and environment names, nothing else); "
            "text is not one."
        )
    if command.when_ready or command.skip_soak or command.break_glass:
        raise LaunchError(
            f"{fields}: text already ends with 'when ready', 'skip soak' or 'break glass'; "
            "say it once, in text or in the fields."
        )
    for name, phrase, reason in (
        ("skip_soak", "skip soak", wanted.skip_soak),
        ("break_glass", "break glass", wanted.break_glass),
    ):
        if reason is not None:
            _check_reason(name, phrase, reason)
    final = f"{_without_end_mark(body.text)} {wanted.words()}"
    expected = command.model_copy(update=wanted.model_dump())
    if _parse(final, config) != expected:
        raise LaunchError(
            f"{fields}: text with the reason added is not a command deploybot reads exactly "
            "(together at most 500 characters, one line); shorten or reword the reason."
        )
    return final


def _plain(reason: str | None) -> str | None:
    return " ".join(reason.split()) if reason is not None else None


def _parse(text: str, config: Config) -> Command | None:
    return parse_command(text, services=config.services, environments=config.environments)


def _check_reason(name: str, phrase: str, reason: str) -> None:
    """The reason alone, after its phrase, as the grammar reads a suffix."""
    read = read_suffixes([*phrase.split(), *reason.split()])
    if read is None:
        raise LaunchError(
            f"{name}: the reason is not plain, so it would override nothing: it holds a "
            "word of negation, condition or hedging (not, don't, no, if, unless, when, maybe, "
            "later, ...), a symbol, or starts or ends with 'and'/'or'. Word the reason "
            "without them, e.g. 'INC-7 hotfix'."
        )
    if read != DeploySuffixes.model_validate({name: reason}):
        raise LaunchError(
            f"{name}: the reason must not itself say 'skip soak' or 'break glass'; use "
            "the field for each."
        )


def _without_end_mark(text: str) -> str:
    """``text`` without surrounding spaces and the one ``.`` or ``!`` the grammar lets end a
    command: the suffix follows the command's last word."""
    text = text.strip()
    return text[:-1].rstrip() if text.endswith((".", "!")) else text
