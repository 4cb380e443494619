"""Why one verification check is not healthy, in words (pure): the reasons an HTTP check,
a command check and the Prometheus fetch give. ``bot.core.policy.check_results`` decides
which applies from the facts the verifier reports; the texts are redacted and capped later,
where a verdict shows them (``bot.core.wording.verification``)."""

__all__ = [
    "crashed_reason",
    "exit_reason",
    "no_answer_reason",
    "no_prometheus_url_reason",
    "no_version_reason",
    "prometheus_no_answer_reason",
    "prometheus_too_big_reason",
    "prometheus_unreachable_reason",
    "status_reason",
    "timed_out_reason",
    "unreachable_reason",
]

_SNIPPET_CHARS = 120


def no_answer_reason(*, timeout_s: float) -> str:
    return f"no answer in {timeout_s:g} s"


def unreachable_reason(*, error: str) -> str:
    return f"unreachable: {error}"


def status_reason(*, status: int, expected: int, body: str) -> str:
    """A wrong status, with the start of the body on one line (when there is one)."""
    snippet = " ".join(body.split())[:_SNIPPET_CHARS]
    return f"status {status}, expected {expected}: {snippet}".rstrip(": ")


def no_version_reason(*, version: str, read_kib: int | None = None) -> str:
    """``read_kib``: the body was cut at that many KiB (the version may be further on)."""
    read = f" (first {read_kib} KiB read)" if read_kib is not None else ""
    return f"the body does not contain {version}{read}"


def timed_out_reason(*, output_tail: str, timeout_s: float) -> str:
    """A command stopped at its timeout: how far its output got, else how long it ran."""
    return output_tail or f"timed out after {timeout_s:g} s"


def exit_reason(*, exit_code: int | None, output_tail: str) -> str:
    code = "did not run" if exit_code is None else f"exit {exit_code}"
    return f"{code}: {output_tail}" if output_tail else code


def no_prometheus_url_reason() -> str:
    return "no prometheus_url in the config"


def prometheus_no_answer_reason(*, timeout_s: float) -> str:
    return f"Prometheus did not answer in {timeout_s:g} s"


def prometheus_unreachable_reason(*, error: str) -> str:
    return f"Prometheus unreachable: {error}"


def prometheus_too_big_reason(*, limit_kib: int) -> str:
    return f"Prometheus's answer is over {limit_kib} KiB"


def crashed_reason(*, error_type: str, error: str) -> str:
    """The check itself raised something unexpected."""
    return f"{error_type}: {error}"
