"""Did our own receiving servers report ``dmarc=pass`` for the From domain? Pure.

Which headers are ours is ``channels.email.boundary``'s rule: every Authentication-Results
with one of our authserv-ids (``EMAIL_AUTHSERV_ID``, one or more) above the first Received
header from outside. Among them:

- none at all, or one we cannot read: no;
- at least one ``dmarc`` result, and every one of them ``pass`` with ``header.from`` naming
  the From domain: a ``fail`` (or ``none``, ``temperror``, ...) anywhere in ours wins over a
  ``pass`` elsewhere in ours;
- backed by what our servers saw themselves: when our headers report SPF, a ``dmarc=pass``
  also needs an aligned ``spf=pass`` or ``dkim=pass`` in them (the From domain, its parent or
  a subdomain of it). DMARC passes only on one of those two; a pass our own reports do not
  show rests on something we did not write. Real servers do this: OpenDMARC placed before
  OpenDKIM reads a forged ``dkim=pass`` header with our id before OpenDKIM strips it, and
  reports ``dmarc=pass`` for a forgery whose own SPF result (ours) is for the forger's domain
  (tests/fixtures/mail/dmarc-first/forged-ar.eml).

A ``dmarc=pass`` inside a comment, a quoted string or a property value is text, never a
result (``channels.email.auth_results``).
"""

from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict

from bot.core.thread.audit import RefusalKind
from channels.email.auth_results import ResInfo
from channels.email.boundary import TraceField, own_results

__all__ = ["DmarcPass", "DmarcVerdict", "NoDmarcPass", "aligned", "dmarc_verdict"]


class DmarcPass(BaseModel):
    model_config = ConfigDict(frozen=True)

    authserv_id: str  # the (topmost) one of ours that reported the pass
    domain: str


class NoDmarcPass(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: RefusalKind  # a closed set: the metric's label
    reason: str  # for the log and the audit (no secrets; ids and domains only)


DmarcVerdict = DmarcPass | NoDmarcPass


def _domain(value: str) -> str:
    return value.strip().rstrip(".").lower()


def aligned(domain: str, from_domain: str) -> bool:
    """Relaxed DMARC alignment without a public suffix list: the same domain, or one a
    subdomain of the other (a parent with no dot, a bare TLD, never aligns)."""
    d, f = _domain(domain.rpartition("@")[2]), _domain(from_domain)
    if not d or not f:
        return False
    return d == f or (f.endswith("." + d) and "." in d) or d.endswith("." + f)


def _backed(results: Iterable[ResInfo], from_domain: str) -> bool:
    """Our own SPF or DKIM report shows what a DMARC pass needs, or shows no SPF at all."""
    spf_seen = False
    for result in results:
        if result.method == "spf":
            spf_seen = True
            mailfrom = result.value("smtp", "mailfrom") or ""
            if result.result == "pass" and aligned(mailfrom, from_domain):
                return True
        if result.method == "dkim" and result.result == "pass":
            signer = result.value("header", "d") or result.value("header", "i") or ""
            if aligned(signer, from_domain):
                return True
    return not spf_seen


def dmarc_verdict(
    trace: Sequence[TraceField | str],
    *,
    authserv_ids: Iterable[str] = (),
    authserv_id: str | None = None,
    from_domain: str,
) -> DmarcVerdict:
    """``trace``: the Received and Authentication-Results fields, topmost first (a plain
    string is an Authentication-Results value). ``authserv_id``: the same as
    ``authserv_ids``, as EMAIL_AUTHSERV_ID spells them (comma-separated)."""
    named = [*authserv_ids, *(authserv_id or "").split(",")]
    ids = [i for i in (_domain(x) for x in named) if i]
    fields = [
        f if isinstance(f, TraceField) else TraceField(name="authentication-results", value=f)
        for f in trace
    ]
    domain = _domain(from_domain)
    if not ids or not domain:
        return NoDmarcPass(kind="no_results", reason="no authserv-id or no From domain")
    own = own_results(fields, authserv_ids=ids)
    if own.unreadable is not None:
        return NoDmarcPass(
            kind="unreadable", reason=f"our Authentication-Results is unreadable: {own.unreadable}"
        )
    if not own.results:
        where = f" above the Received from {own.boundary}" if own.boundary else ""
        return NoDmarcPass(
            kind="no_results",
            reason=f"no Authentication-Results from our servers ({', '.join(ids)}){where}",
        )
    every = [(header.authserv_id, r) for header in own.results for r in header.results]
    dmarc = [(by, r) for by, r in every if r.method == "dmarc"]
    if not dmarc:
        return NoDmarcPass(kind="no_dmarc", reason="our servers reported no dmarc result")
    for by, result in dmarc:
        if result.result != "pass":
            return NoDmarcPass(kind="dmarc_fail", reason=f"{by} reported dmarc={result.result}")
    for by, result in dmarc:
        header_from = result.value("header", "from")
        if header_from is None:
            return NoDmarcPass(kind="other_domain", reason=f"{by}: dmarc=pass names no header.from")
        if _domain(header_from) != domain:
            return NoDmarcPass(
                kind="other_domain", reason=f"{by}: dmarc=pass is for {header_from}, not {domain}"
            )
    if not _backed((r for _by, r in every), domain):
        return NoDmarcPass(
            kind="unbacked",
            reason="dmarc=pass without an aligned spf=pass or dkim=pass from our servers "
            "(does OpenDMARC read headers the MX did not strip first?)",
        )
    return DmarcPass(authserv_id=dmarc[0][0], domain=domain)
