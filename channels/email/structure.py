"""The shape of an email, measured before any parser sees it. Pure.

Python's ``email`` parser recurses once per nested part (and its header parser once per
nested comment), so a stranger's 66 KB message of 1,000 nested ``multipart/mixed`` parts
raised ``RecursionError`` before anyone could look at who sent it. ``mime_outline`` walks
the raw lines once, iteratively, keeping a stack of the open boundaries the way the
stdlib's feed parser does, and counts:

- the nesting depth of parts (``multipart/*`` and ``message/*`` bodies, and the implicit
  ``message/rfc822`` parts of a ``multipart/digest``),
- the number of parts,
- the size of each part's header block and of each header field,
- how deeply parentheses (RFC 5322 comments) nest in a header field.

Over any cap, the message is ``TooComplex`` and is never handed to the parser. The walk
need not agree with the stdlib on every malformed message: what it misses, the guard
around the parse catches (``channels.email.message``).
"""

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["MimeCaps", "MimeOutline", "TooComplex", "mime_outline"]

_HEADER_LINE = re.compile(rb"^(From |[\041-\071\073-\176]*:|[\t ])")
_FIELD = re.compile(rb"^([\041-\071\073-\176]+)\s*:(.*)$", re.DOTALL)
_BOUNDARY = re.compile(
    rb"""(?:^|;)\s*boundary\s*=\s*(?:"((?:[^"\\]|\\.)*+)"|([^;\s]*))""", re.IGNORECASE
)
_PARENS = re.compile(rb'\\.|"|[()]')
_PARAMETRIZED = (b"content-type", b"content-disposition")


class MimeCaps(BaseModel):
    model_config = ConfigDict(frozen=True)

    max_depth: int = 20  # real mail nests 3-6 levels (a forward of a signed reply: 8)
    max_parts: int = 200  # an email with many attachments has a few dozen
    max_header_bytes: int = 64 * 1024  # one part's header block
    max_field_bytes: int = 32 * 1024  # one header field, unfolded (a long References)
    max_comment_depth: int = 16  # "(a (b (c)))" in a header
    max_params: int = 64  # of a Content-Type or Content-Disposition (each parse is linear in
    # them, and the stdlib parses Content-Type a dozen times per message)


class MimeOutline(BaseModel):
    model_config = ConfigDict(frozen=True)

    depth: int
    parts: int


class TooComplex(BaseModel):
    model_config = ConfigDict(frozen=True)

    reason: Literal["too_deep", "too_many_parts", "headers_too_large"]
    detail: str


class _Level:
    """One open ``multipart``: its delimiter, and whether its parts default to messages."""

    __slots__ = ("delimiter", "depth", "digest")

    def __init__(self, delimiter: bytes, *, digest: bool, depth: int) -> None:
        self.delimiter = delimiter
        self.digest = digest
        self.depth = depth


def _comment_depth(value: bytes) -> int:
    depth = deepest = 0
    quoted = False
    for token in _PARENS.findall(value):
        if token == b'"':
            quoted = not quoted
        elif quoted or token.startswith(b"\\"):
            continue
        elif token == b"(":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth = max(0, depth - 1)
    return deepest


def _busy_fields(fields: list[bytes], caps: MimeCaps) -> TooComplex | None:
    """A header block whose fields would cost the parser too much (nesting, parameters)."""
    for field in fields:
        if _comment_depth(field) > caps.max_comment_depth:
            detail = f"header comments nested over {caps.max_comment_depth} deep"
            return TooComplex(reason="too_deep", detail=detail)
        match = _FIELD.match(field)
        name = match.group(1).lower() if match else b""
        if name in _PARAMETRIZED and field.count(b";") > caps.max_params:
            detail = f"a {name.decode().title()} with over {caps.max_params} parameters"
            return TooComplex(reason="headers_too_large", detail=detail)
    return None


def _content_type(fields: list[bytes], *, digest_part: bool) -> tuple[str, bytes | None]:
    """The part's media type and its boundary (None when it has none we can read)."""
    for field in fields:
        match = _FIELD.match(field)
        if match and match.group(1).lower() == b"content-type":
            value = match.group(2)
            media = value.split(b";", 1)[0].strip().lower().decode("ascii", "replace")
            if media.count("/") != 1:
                media = "text/plain"
            found = _BOUNDARY.search(value)
            boundary = (found.group(1) or found.group(2) or b"").strip() if found else b""
            return media, boundary or None
    return ("message/rfc822" if digest_part else "text/plain"), None


def _closes(line: bytes, delimiter: bytes) -> Literal["", "part", "end"]:
    """Whether ``line`` is ``delimiter`` (a new part), ``delimiter--`` (the end), or
    neither; trailing spaces and tabs are allowed, as the stdlib allows them."""
    if not line.startswith(delimiter):
        return ""
    rest = line[len(delimiter) :]
    if rest.startswith(b"--"):
        return "end" if not rest[2:].strip(b" \t") else ""
    return "part" if not rest.strip(b" \t") else ""


def mime_outline(raw: bytes, caps: MimeCaps | None = None) -> MimeOutline | TooComplex:
    caps = caps or MimeCaps()
    levels: list[_Level] = []  # open multiparts, outermost first
    depth = deepest = 0  # the current part's depth: containers around it
    parts = 1
    in_headers, digest_part = True, False
    fields: list[bytes] = []
    header_bytes = 0

    def start_part(at_depth: int, *, digest: bool) -> TooComplex | None:
        nonlocal depth, deepest, parts, in_headers, digest_part, header_bytes
        depth, parts = at_depth, parts + 1
        deepest = max(deepest, depth)
        in_headers, digest_part, header_bytes = True, digest, 0
        fields.clear()
        if depth > caps.max_depth:
            return TooComplex(reason="too_deep", detail=f"parts nested over {caps.max_depth} deep")
        if parts > caps.max_parts:
            return TooComplex(reason="too_many_parts", detail=f"over {caps.max_parts} parts")
        return None

    for line in raw.splitlines():
        if line.startswith(b"--") and levels:
            hit = next(
                (i for i in range(len(levels) - 1, -1, -1) if _closes(line, levels[i].delimiter)),
                None,
            )
            if hit is not None:
                level = levels[hit]
                kind = _closes(line, level.delimiter)
                del levels[hit + 1 :]
                if kind == "end":
                    levels.pop()
                    depth, in_headers = level.depth, False  # the epilogue: plain text
                    continue
                problem = start_part(level.depth + 1, digest=level.digest)
                if problem is not None:
                    return problem
                continue
        if not in_headers:
            continue
        if line and _HEADER_LINE.match(line):
            header_bytes += len(line) + 2
            if header_bytes > caps.max_header_bytes:
                return TooComplex(
                    reason="headers_too_large",
                    detail=f"a header block over {caps.max_header_bytes // 1024} KB",
                )
            if line[:1] in (b" ", b"\t") and fields:
                fields[-1] += b" " + line.strip()
            else:
                fields.append(line)
            if len(fields[-1]) > caps.max_field_bytes:
                return TooComplex(
                    reason="headers_too_large",
                    detail=f"a header field over {caps.max_field_bytes // 1024} KB",
                )
            continue
        # The end of the header block (an empty line, or a line that is no header).
        in_headers = False
        problem = _busy_fields(fields, caps)
        if problem is not None:
            return problem
        media, boundary = _content_type(fields, digest_part=digest_part)
        if media.startswith("multipart/") and boundary is not None:
            levels.append(_Level(b"--" + boundary, digest=media == "multipart/digest", depth=depth))
        elif media.startswith("message/") and media != "message/delivery-status":
            problem = start_part(depth + 1, digest=False)
            if problem is not None:
                return problem
            if line:  # no empty line: the inner message starts with its body, headerless
                in_headers = False
    if in_headers and (problem := _busy_fields(fields, caps)) is not None:
        return problem
    return MimeOutline(depth=deepest, parts=parts)
