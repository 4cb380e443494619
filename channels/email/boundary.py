"""Which ``Authentication-Results`` our own mail system wrote: the trust boundary. Pure.

The rule: read the trace header fields (``Received`` and ``Authentication-Results``) from
the top. Every ``Authentication-Results`` whose authserv-id is one of ours counts, until the
first ``Received`` header whose *sending* side is not one of our hosts; that header is the
one our border MTA wrote when the message came in from outside, and nothing below it counts.

Why, from RFC 8601 (sections 5 and 7.1 in particular):

- Each agent adds its trace fields at the top, so everything our servers added (their
  ``Received`` and their milters' ``Authentication-Results``) sits above everything the
  message carried when it reached us. A sender can write any header, including one with our
  authserv-id and a ``Received`` naming our host, but only *below* the ``Received`` our
  border MTA added for the connection it accepted.
- A border MTA must remove incoming fields that claim its authserv-id (section 5), and
  OpenDKIM does so for its own host name; we do not rely on it: a second MX's id, or an MX
  configured with another ``AuthservID``, is not stripped by the first (real captures in
  tests/fixtures/mail show a forged ``mx2`` header surviving ``mx``).
- Several of our fields may be above the boundary: one per milter (OpenDKIM writes
  ``dkim=``, OpenDMARC ``dmarc=`` and ``spf=``, in either order) and one set per internal
  hop (a second MX relaying to the first). All of them count, not only the topmost.

A ``Received`` header's sending side is its ``from`` clause as our MTA recorded it: the host
the client named and, in the comment after it, the name our MTA verified for the address
(Postfix: ``from HELO (RDNS [IP])``, ``unknown`` when the reverse name is not confirmed;
Exim: ``from RDNS ([IP] helo=HELO)``). The clause is ours only when every name in it is one
of our hosts: a configured authserv-id (OpenDKIM's and OpenDMARC's default ``AuthservID`` is
the MTA's host name) or ``localhost`` (a content filter re-injecting on the same host). An
address literal in the first position, ``unknown``, or any other name ends our part. A
``Received`` without a ``from`` clause (a local submission, ``by host ... from userid``)
records no hop from outside and does not end it. A client that names our host in its HELO
still shows its own reverse name (or ``unknown``) beside it, so it cannot pass for an
internal hop; an MTA that records no verified name beside a HELO is trusted no further than
that HELO, which is why the MX must strip our ids from incoming mail as well.
"""

import re
from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from channels.email.auth_results import AuthResults, Unreadable, parse_auth_results

__all__ = ["OwnResults", "TraceField", "own_results", "received_from"]

_CLAUSE_END = frozenset({"by", "via", "with", "id", "for"})
_FROM = re.compile(r"from[\s(]")
_WORD = re.compile(r"([a-z]+)(?=[\s(]|$)")
_HELO = re.compile(r"\b(?:helo|ehlo)=([^\s();]+)")
_LOCAL_HOSTS = frozenset({"localhost"})


class TraceField(BaseModel):
    """One trace header field, its value as the raw bytes spelled it (unfolded later)."""

    model_config = ConfigDict(frozen=True)

    name: Literal["received", "authentication-results"]
    value: str


class OwnResults(BaseModel):
    """What our own servers reported, above the boundary."""

    model_config = ConfigDict(frozen=True)

    results: tuple[AuthResults, ...] = ()
    unreadable: str | None = None  # one of ours that could not be read: nothing counts
    boundary: str | None = None  # the sending side that ended our part, for the logs


def _host(name: str) -> str:
    return name.strip().rstrip(".").lower()


def _clause(value: str) -> str | None:
    """The ``from`` clause of a Received value (its comments included), or None."""
    text = " ".join(value.split()).lower()
    if not _FROM.match(text):
        return None
    depth, at = 0, 4
    while at < len(text):
        char = text[at]
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        elif depth == 0 and char == ";":
            break
        elif depth == 0 and text[at - 1] in " )":
            word = _WORD.match(text, at)
            if word and word.group(1) in _CLAUSE_END:
                break
        at += 1
    return text[4:at].strip()


def received_from(value: str) -> list[str] | None:
    """The names on the sending side of one Received header (lower-cased), or None when it
    has no ``from`` clause: the first word, the first word of the comment after it (the
    verified reverse name; not an address literal) and any ``helo=``. An address literal or
    nothing in the first position reads as a name that is never one of our hosts."""
    clause = _clause(value)
    if clause is None:
        return None
    first = re.split(r"[\s(]", clause, maxsplit=1)[0]
    names = [_host(first) or "unknown"]
    comment = clause[clause.find("(") + 1 :] if "(" in clause else ""
    words = comment.replace(")", " ").split()
    if words and not words[0].startswith("[") and "=" not in words[0]:
        names.append(_host(words[0]))
    names += [_host(m) for m in _HELO.findall(clause)]
    return names


def own_results(trace: Sequence[TraceField], *, authserv_ids: Iterable[str]) -> OwnResults:
    """Our servers' Authentication-Results above the boundary, topmost first."""
    ours = frozenset(_host(i) for i in authserv_ids if _host(i))
    hosts = ours | _LOCAL_HOSTS
    found: list[AuthResults] = []
    for field in trace:
        if field.name == "received":
            names = received_from(field.value)
            if names is not None and not all(n in hosts for n in names):
                outside = next(n for n in names if n not in hosts)
                return OwnResults(results=tuple(found), boundary=outside)
            continue
        parsed = parse_auth_results(field.value)
        if parsed.authserv_id is None or _host(parsed.authserv_id) not in ours:
            continue  # someone else's (or unreadable before its authserv-id): worthless
        if isinstance(parsed, Unreadable):
            return OwnResults(results=tuple(found), unreadable=parsed.reason)
        found.append(parsed)
    return OwnResults(results=tuple(found))
