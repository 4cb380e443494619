"""Outside text: text deploybot did not write, held as data wherever it goes (invariant 7).

A commit subject, an author, a tag name, a GitHub run, job or step name, a URL GitHub gave,
the output of a deploy command or a check, a model's words, an email subject: any of them may
carry what a terminal, Slack or a mail reader would act on instead of show. ``ESC[2K ESC[1G``
erases the line and draws a forged one over it; ``ESC[8m`` hides what follows; ``U+202E``
shows the rest reversed; a zero-width space makes two names look the same.

One type, ``Outside``: a field declared ``Annotated[str, Outside(kind=...)]`` (the aliases
below) is cleaned by pydantic whenever a value enters it: when it is gathered, and again
when a thread is loaded from Redis, so nothing stored before this rule, and nothing a
future code path forgets, reaches a reader raw. A marker on ``str`` rather than a class of
its own: the values stay plain strings (JSON, hashing, comparisons, ``plan_hash`` of a clean
plan do not change), and the rule sits in the field's type, where no caller can skip it.

``clean`` removes, in this order:

1. escape sequences as whole sequences (CSI, OSC, DCS/SOS/PM/APC strings, two-byte escapes,
   and their 8-bit C1 forms); an unterminated one loses only its introducer, so the rest
   stays visible as text;
2. every control character (C0, DEL, C1), every format character (bidi embeddings,
   overrides, isolates and marks, zero-width spaces and joiners, the BOM, invisible tags),
   lone surrogates, and invisible fillers (Hangul fillers, the braille blank); combining
   marks beyond 3 in a row (stacks that draw over the lines around them);
3. line breaks, by kind: a one-line kind turns tabs and line breaks into spaces and
   collapses runs of whitespace; a multi-line kind keeps ``\\n`` (``\\r\\n`` and a lone
   ``\\r``, line and paragraph separators become ``\\n``) and turns tabs into spaces;
4. length: at most ``max_chars`` characters (and ``max_lines`` lines), cut with ``…`` at
   the end (or, for output, at the start: its end says how it ended).

The caps, per kind (``CAPS``): name 128 (tag names, authors, GitHub job and step names),
subject 200 (commit subjects, email subjects), url 2048, line 1000 (reasons, notes, run
titles), text 16000 characters / 400 lines (messages of people, the model and the bot),
output 4000 characters / 60 lines (command and check output, the end kept).

``clean`` is idempotent (``clean(clean(x)) == clean(x)``), so loading a stored value again
never changes it, and it is the identity on ordinary printable text.

Cost (every outside field of every thread loaded passes here, issue 18): short, tidy
printable ASCII (what cleaning leaves as it is) is returned at once, tested by one regex;
other texts up to 4096 characters are remembered (a bounded memo, the least recently used
dropped first), since the same texts come back on every load of a thread. Writers still escape
for their medium (``inert`` is the terminal's), since not every string they print is typed.
"""

import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Final, Literal

from pydantic import GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema

__all__ = [
    "CAPS",
    "Cap",
    "Kind",
    "Line",
    "Name",
    "Output",
    "Outside",
    "Subject",
    "Text",
    "Url",
    "clean",
    "inert",
]

Kind = Literal["name", "subject", "url", "line", "text", "output"]

ELLIPSIS: Final = "…"
_MAX_MARKS = 3  # combining marks in a row (enough for any script's stacked accents)


@dataclass(frozen=True, kw_only=True)
class Cap:
    """How long one kind of outside text may be, and whether it keeps line breaks."""

    max_chars: int
    multiline: bool = False
    max_lines: int = 1
    keep: Literal["start", "end"] = "start"


CAPS: Final[Mapping[Kind, Cap]] = {
    "name": Cap(max_chars=128),
    "subject": Cap(max_chars=200),
    "url": Cap(max_chars=2048),
    "line": Cap(max_chars=1000),
    "text": Cap(max_chars=16000, multiline=True, max_lines=400),
    "output": Cap(max_chars=4000, multiline=True, max_lines=60, keep="end"),
}

# Whole escape sequences, 7-bit and 8-bit (C1) forms: strings (OSC, DCS, SOS, PM, APC) up to
# their terminator, CSI with parameters, any other escape with its intermediates.
_SEQUENCE = re.compile(
    r"(?:\x1b[P\]X^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x90\x98\x9b-\x9f]*(?:\x07|\x1b\\|\x9c)"
    r"|(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|\x1b[ -/]*[0-~]"
)
_PLAIN = re.compile(r"[ -~]*")  # printable ASCII: nothing to remove
_PLAIN_LINES = re.compile(r"[ -~\n]*")
# What one-line cleaning leaves as it is: printable ASCII words, single spaces between.
_TIDY = re.compile(r"(?:[!-~]+(?: [!-~]+)*)?")
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_DROPPED = frozenset({"Cc", "Cf", "Cs"})
_BREAKS = frozenset({"Zl", "Zp"})
_MARKS = frozenset({"Mn", "Me"})


def _chars(text: str, *, multiline: bool, tabs: bool) -> str:
    """Step 2 and the character part of step 3, one pass over ``text``."""
    out: list[str] = []
    marks = 0
    for ch in text:
        if ch == "\n" or ch == "\t":
            kept = (ch == "\n" and multiline) or (ch == "\t" and tabs)
            out.append(ch if kept else " ")
            marks = 0
            continue
        category = unicodedata.category(ch)
        if category in _DROPPED or ch in _INVISIBLE:
            if ch.isspace():  # \v \f \x1c-\x1f \x85: a break between words
                out.append(" ")
            continue
        if category in _BREAKS:
            out.append("\n" if multiline else " ")
        elif category in _MARKS:
            marks += 1
            if marks <= _MAX_MARKS:
                out.append(ch)
            continue
        else:
            out.append(ch)
        marks = 0
    return "".join(out)


def _lines(text: str, cap: Cap) -> str:
    lines = text.split("\n")
    if len(lines) <= cap.max_lines:
        return text
    if cap.keep == "end":
        return "\n".join([ELLIPSIS, *lines[len(lines) - cap.max_lines + 1 :]])
    return "\n".join([*lines[: cap.max_lines - 1], ELLIPSIS])


def _cut(text: str, cap: Cap) -> str:
    if len(text) <= cap.max_chars:
        return text
    if cap.keep == "end":
        return ELLIPSIS + text[len(text) - cap.max_chars + 1 :]
    return text[: cap.max_chars - 1] + ELLIPSIS


def inert(text: str, *, multiline: bool, tabs: bool = False) -> str:
    """``text`` with nothing a terminal (or any reader) would act on: steps 1 to 3 of
    ``clean``, no length cap. For writers, whose text is not all typed. ``tabs``: keep tabs
    (a multi-line text a writer indents with them)."""
    if not (_PLAIN_LINES if multiline else _PLAIN).fullmatch(text):
        text = _SEQUENCE.sub("", text)
        if multiline:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        text = _chars(text, multiline=multiline, tabs=tabs and multiline)
    return text if multiline else " ".join(text.split())


def _tidy(text: str, cap: Cap) -> bool:
    """``text`` is what cleaning it leaves, length aside: printable ASCII, single spaces
    between words (one-line kinds), no more lines than the cap (multi-line kinds)."""
    if cap.multiline:
        return bool(_PLAIN_LINES.fullmatch(text)) and text.count("\n") < cap.max_lines
    return bool(_TIDY.fullmatch(text))


def clean(text: str, *, kind: Kind) -> str:
    """``text`` as outside text of ``kind``: see the module's docstring."""
    cap = CAPS[kind]
    if len(text) <= cap.max_chars and _tidy(text, cap):
        return text  # the fast path: short printable ASCII, nothing to remove or cut
    if len(text) <= _MEMO_CHARS:  # the same texts come back on every load of a thread
        return _remembered(text, kind)
    return _clean(text, cap)


_MEMO_CHARS = 4096  # texts up to this long are remembered, 1024 of them (least recent go)


@functools.lru_cache(maxsize=1024)
def _remembered(text: str, kind: Kind) -> str:
    return _clean(text, CAPS[kind])


def _clean(text: str, cap: Cap) -> str:
    room = 4 * cap.max_chars + 4096  # a bound on the work: what is beyond cannot be shown
    if len(text) > room:
        text = text[len(text) - room :] if cap.keep == "end" else text[:room]
    text = inert(text, multiline=cap.multiline)
    if cap.multiline:
        text = _lines(text, cap)
    return _cut(text, cap)


@dataclass(frozen=True)
class Outside:
    """The marker: ``Annotated[str, Outside(kind="subject")]`` cleans every value that
    enters the field (pydantic validation, from data, JSON or a stored thread).

    Once per value, by a wrap validator: a string is cleaned before pydantic checks it (a
    lone surrogate, which pydantic refuses, is removed rather than failing the whole event;
    ``min_length`` counts what is left), and whatever pydantic turned into a string is
    cleaned after. A string pydantic changes while checking it is cleaned again."""

    kind: Kind

    def __call__(self, text: str) -> str:
        return clean(text, kind=self.kind)

    def __get_pydantic_core_schema__(
        self, source: type[str], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_wrap_validator_function(_validator(self.kind), handler(source))


def _validator(kind: Kind) -> core_schema.NoInfoWrapValidatorFunction:
    """``Outside(kind)``'s wrap validator. Its first test is ``clean``'s fast path, written
    out with the kind's caps bound (it runs for every outside field of every thread loaded)."""
    cap = CAPS[kind]
    most, lines = cap.max_chars, cap.max_lines
    tidy = (_PLAIN_LINES if cap.multiline else _TIDY).fullmatch
    multiline = cap.multiline

    def validate(value: object, handler: core_schema.ValidatorFunctionWrapHandler) -> str:
        if isinstance(value, str):
            if (
                len(value) <= most
                and tidy(value) is not None
                and (not multiline or value.count("\n") < lines)
            ):
                cleaned = value
            else:
                cleaned = clean(value, kind=kind)
            checked: str = handler(cleaned)
            return checked if checked == cleaned else clean(checked, kind=kind)
        return clean(handler(value), kind=kind)

    return validate


Name = Annotated[str, Outside("name")]
Subject = Annotated[str, Outside("subject")]
Url = Annotated[str, Outside("url")]
Line = Annotated[str, Outside("line")]
Text = Annotated[str, Outside("text")]
Output = Annotated[str, Outside("output")]
