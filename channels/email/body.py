"""The words a person wrote in an email: HTML turned into text, quotes and signatures cut.

Pure functions. What is cut: everything from the first reply header (Gmail and Apple Mail
"On ... wrote:", Outlook "-----Original Message-----", "From: ... Sent:" blocks and its
underscore rule, "Begin forwarded message:"), ``>``-quoted lines, and everything from a
signature separator ("-- ") or a "Sent from my ..." line. So a "no" above a quoted "approve"
reads as "no".
"""

import re
from html.parser import HTMLParser

__all__ = ["fresh_text", "html_to_text"]

_ON_WROTE = re.compile(
    r"^\s*(on|am|le|el)\b.{0,300}\b(wrote|schrieb|a écrit|escribió)\b.{0,200}:\s*$", re.I
)
_ON_START = re.compile(r"^\s*on\s+\S", re.I)
_WROTE_END = re.compile(r"\bwrote\s*:\s*$", re.I)
_ORIGINAL = re.compile(r"^\s*-{2,}\s*(original message|forwarded message)\s*-{2,}", re.I)
_OUTLOOK_RULE = re.compile(r"^\s*_{20,}\s*$")
_HEADER_FROM = re.compile(r"^\s*\*?(from|von|de)\s*:\*?\s", re.I)
_HEADER_NEXT = re.compile(r"^\s*\*?(sent|date|to|subject|gesendet|envoyé)\s*:", re.I)
_FORWARDED = re.compile(r"^\s*begin forwarded message\s*:", re.I)
_SIGNATURE = re.compile(r"^(-- ?|--|—)$")
_SENT_FROM = re.compile(r"^\s*sent from my \S", re.I)

_MAX_LINES = 2_000  # a reply is read from the top; nobody decides on line 2001


def _cut_at(lines: list[str]) -> int:
    """The index of the first line that is not the sender's own text."""
    for i, line in enumerate(lines):
        stripped = line.rstrip()
        if _ON_WROTE.match(stripped) or _ORIGINAL.match(stripped) or _FORWARDED.match(stripped):
            return i
        if _OUTLOOK_RULE.match(stripped) or _SIGNATURE.match(stripped) or _SENT_FROM.match(line):
            return i
        if _ON_START.match(stripped) and any(
            _WROTE_END.search(nxt) for nxt in lines[i + 1 : i + 3]
        ):  # Gmail wraps a long attribution over two or three lines
            return i
        header_block = any(_HEADER_NEXT.match(n) for n in lines[i + 1 : i + 5])
        if _HEADER_FROM.match(stripped) and header_block:
            return i
    return len(lines)


def fresh_text(body: str) -> str:
    """The text the sender wrote themselves, without quotes, attributions and signatures."""
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")[:_MAX_LINES]
    lines = lines[: _cut_at(lines)]
    own = [line.rstrip() for line in lines if not line.lstrip().startswith(">")]
    return "\n".join(own).strip()


class _TextOf(HTMLParser):
    _BLOCK = frozenset(
        {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "table", "pre"}
    )
    _SKIP = frozenset({"style", "script", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._quote = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skip += 1
        elif tag == "blockquote":
            self._quote += 1
            self.parts.append("\n")
        elif tag in self._BLOCK:
            self.parts.append("\n")
        if tag == "hr":  # Outlook puts its reply header under a rule
            self.parts.append("_" * 32 + "\n")
        if tag == "div" and any(
            v and v.lower() in ("divrplyfwdmsg", "appendonsend") for k, v in attrs if k == "id"
        ):
            self.parts.append("_" * 32 + "\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag == "blockquote":
            self._quote = max(0, self._quote - 1)
            self.parts.append("\n")
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        text = re.sub(r"[ \t\r\n\f\v\u00a0]+", " ", data)
        if self._quote:
            text = text.replace("\n", "\n> ")
            if not self.parts or self.parts[-1].endswith("\n"):
                text = "> " + text
        self.parts.append(text)


def html_to_text(markup: str) -> str:
    """Readable text of an HTML body: blocks become lines, blockquotes ``>``-quoted."""
    parser = _TextOf()
    parser.feed(markup)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
