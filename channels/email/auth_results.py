"""Authentication-Results headers (RFC 8601), parsed into typed results. Pure, never raises.

    header  = authserv-id [CFWS version] ( ";" "none" / 1*( ";" resinfo ) )
    resinfo = method ["/" version] "=" result [reason] *( ptype "." property "=" pvalue )
    reason  = "reason" "=" value            value = token / quoted-string
    pvalue  = value / [ [local-part] "@" ] domain-name

CFWS (whitespace, folding and nested ``(comments)``) may appear between any two of these.
A ``dmarc=pass`` inside a comment, a quoted string or a property's value is text, never a
result: a result is only what follows ``method=`` at the start of a ``;``-separated resinfo.
Two liberties, both harmless for that rule: a property value may hold ``=``, ``/``, ``:``
and ``@`` (base64 signatures, IPv6 addresses), and a bare ``key=value`` after a result is
kept as a property with an empty ptype (Microsoft writes ``action=none``). Anything else
that does not fit is ``Unreadable``, with the authserv-id when that much could be read.
"""

from pydantic import BaseModel, ConfigDict

__all__ = [
    "MAX_HEADER_CHARS",
    "AuthResults",
    "Property",
    "ResInfo",
    "Unreadable",
    "parse_auth_results",
]

MAX_HEADER_CHARS = 16 * 1024
_WSP = " \t\r\n"
_KEYWORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
_TSPECIALS = frozenset('()<>@,;:\\"/[]?=')  # RFC 2045: never in a token
_NOT_IN_PVALUE = frozenset('();"\\')


class Property(BaseModel):
    model_config = ConfigDict(frozen=True)

    ptype: str  # lower-cased: smtp, header, body, policy; "" for a bare key=value
    name: str  # lower-cased: mailfrom, helo, from, ...
    value: str


class ResInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    method: str  # lower-cased: spf, dkim, dmarc, ...
    version: str | None = None
    result: str  # lower-cased: pass, fail, none, ...
    reason: str | None = None
    properties: tuple[Property, ...] = ()

    def value(self, ptype: str, name: str) -> str | None:
        """The first value of ``ptype.name`` (e.g. ``header.from``), or None."""
        return next((p.value for p in self.properties if (p.ptype, p.name) == (ptype, name)), None)


class AuthResults(BaseModel):
    model_config = ConfigDict(frozen=True)

    authserv_id: str
    version: str | None = None
    results: tuple[ResInfo, ...] = ()  # empty for "none"


class Unreadable(BaseModel):
    model_config = ConfigDict(frozen=True)

    authserv_id: str | None  # when the header got that far
    reason: str


class _Malformed(Exception):
    pass


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def peek(self) -> str:
        return self.text[self.at] if self.at < len(self.text) else ""

    def done(self) -> bool:
        return self.at >= len(self.text)

    def cfws(self) -> None:
        while not self.done():
            char = self.peek()
            if char in _WSP:
                self.at += 1
            elif char == "(":
                self._comment()
            else:
                return

    def _comment(self) -> None:
        depth = 0
        while not self.done():
            char = self.peek()
            self.at += 1
            if char == "\\":
                self.at += 1  # quoted-pair: the next character is text
            elif char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
                if depth == 0:
                    return
        raise _Malformed("unterminated comment")

    def expect(self, char: str) -> None:
        self.cfws()
        if self.peek() != char:
            raise _Malformed(f"expected {char!r} at {self.at}")
        self.at += 1

    def run(self, allowed: "frozenset[str] | None", refused: frozenset[str]) -> str:
        start = self.at
        while not self.done():
            char = self.peek()
            if char in _WSP or char in refused or ord(char) < 32 or ord(char) == 127:
                break
            if allowed is not None and char not in allowed:
                break
            self.at += 1
        return self.text[start : self.at]

    def keyword(self, what: str) -> str:
        self.cfws()
        word = self.run(_KEYWORD, frozenset())
        if not word:
            raise _Malformed(f"expected {what} at {self.at}")
        return word.lower()

    def quoted(self) -> str:
        self.at += 1  # the opening quote
        out: list[str] = []
        while not self.done():
            char = self.peek()
            self.at += 1
            if char == "\\":
                out.append(self.peek())
                self.at += 1
            elif char == '"':
                return "".join(out)
            else:
                out.append(char)
        raise _Malformed("unterminated quoted string")

    def value(self, what: str) -> str:
        """``token / quoted-string`` (RFC 2045)."""
        self.cfws()
        if self.peek() == '"':
            return self.quoted()
        word = self.run(None, _TSPECIALS)
        if not word:
            raise _Malformed(f"expected {what} at {self.at}")
        return word

    def pvalue(self) -> str:
        self.cfws()
        head = self.quoted() if self.peek() == '"' else ""
        if head and self.peek() != "@":
            return head
        word = self.run(None, _NOT_IN_PVALUE)
        if not head and not word:
            raise _Malformed(f"expected a property value at {self.at}")
        return head + word


def _resinfo(scan: _Scanner) -> ResInfo:
    method = scan.keyword("a method")
    version = None
    scan.cfws()
    if scan.peek() == "/":
        scan.at += 1
        scan.cfws()
        version = scan.run(frozenset("0123456789"), frozenset()) or None
        if version is None:
            raise _Malformed(f"expected a method version at {scan.at}")
    scan.expect("=")
    result = scan.keyword("a result")
    reason: str | None = None
    properties: list[Property] = []
    while True:
        scan.cfws()
        if scan.done() or scan.peek() == ";":
            return ResInfo(
                method=method,
                version=version,
                result=result,
                reason=reason,
                properties=tuple(properties),
            )
        word = scan.keyword("a property")
        scan.cfws()
        if scan.peek() == ".":
            scan.at += 1
            name = scan.keyword("a property name")
            scan.expect("=")
            properties.append(Property(ptype=word, name=name, value=scan.pvalue()))
        elif word == "reason" and scan.peek() == "=" and reason is None and not properties:
            scan.at += 1
            reason = scan.value("a reason")
        elif scan.peek() == "=":
            scan.at += 1
            properties.append(Property(ptype="", name=word, value=scan.pvalue()))
        else:
            raise _Malformed(f"expected ptype.property=value at {scan.at}")


def parse_auth_results(header: str) -> AuthResults | Unreadable:
    """One Authentication-Results header value (folded or not), read strictly."""
    if len(header) > MAX_HEADER_CHARS:
        return Unreadable(authserv_id=None, reason="header too long")
    scan = _Scanner(header)
    authserv_id: str | None = None
    try:
        authserv_id = scan.value("an authserv-id")
        scan.cfws()
        version = scan.run(frozenset("0123456789"), frozenset()) or None
        results: list[ResInfo] = []
        scan.expect(";")
        scan.cfws()
        start = scan.at
        if scan.run(_KEYWORD, frozenset()).lower() == "none":
            scan.cfws()
            if scan.done():
                return AuthResults(authserv_id=authserv_id, version=version)
        scan.at = start
        while True:
            results.append(_resinfo(scan))
            scan.cfws()
            if scan.done():
                break
            scan.expect(";")
            scan.cfws()
            if scan.done():  # a trailing ";" (common, harmless)
                break
        return AuthResults(authserv_id=authserv_id, version=version, results=tuple(results))
    except _Malformed as exc:
        return Unreadable(authserv_id=authserv_id, reason=str(exc))
    except (IndexError, ValueError) as exc:  # a scanner slip must never become a crash
        return Unreadable(authserv_id=authserv_id, reason=f"unreadable ({type(exc).__name__})")
