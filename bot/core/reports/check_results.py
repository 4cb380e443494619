"""Why one verification check is not healthy, in words (pure): the reasons an HTTP check,
a command check, the Prometheus fetch and its answer give. ``bot.core.policy.check_results``
and ``bot.core.policy.prometheus`` decide which applies from the facts the verifier reports;
the texts are redacted and capped later, where a verdict shows them
(``bot.core.wording.verification``)."""

from collections.abc import Mapping, Sequence

__all__ = [
    "crashed_reason",
    "exit_reason",
    "no_answer_reason",
    "no_prometheus_url_reason",
    "no_version_reason",
    "prometheus_error_reason",
    "prometheus_malformed_reason",
    "prometheus_no_answer_reason",
    "prometheus_no_result_reason",
    "prometheus_no_series_reason",
    "prometheus_no_value_reason",
    "prometheus_not_a_number",
    "prometheus_not_an_answer_reason",
    "prometheus_not_below_reason",
    "prometheus_refused_reason",
    "prometheus_sample",
    "prometheus_status_reason",
    "prometheus_too_big_reason",
    "prometheus_unreachable_reason",
    "prometheus_wrong_shape_reason",
    "status_reason",
    "timed_out_reason",
    "unreachable_reason",
]

_SNIPPET_CHARS = 120
_SERIES_SHOWN = 2


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


def prometheus_sample(*, metric: Mapping[str, str], value: str) -> str:
    """One series and its value: ``errs{code="500"} = 2.5``; a series without labels (a sum)
    is its value alone."""
    labels = _labels(metric)
    return f"{labels} = {value}" if labels else value


def prometheus_not_a_number(*, metric: Mapping[str, str], value: str) -> str:
    """A series whose value is not a number, quoted."""
    labels = _labels(metric)
    return f"{labels} = {value!r} (not a number)" if labels else repr(value)


def prometheus_not_below_reason(*, below: float, samples: Sequence[str]) -> str:
    return f"not below {below:g}: {_shown(samples)}"


def prometheus_no_value_reason(*, samples: Sequence[str]) -> str:
    return f"no value: {_shown(samples)}"


def prometheus_not_an_answer_reason(*, status: int) -> str:
    return f"status {status}, not a Prometheus query answer"


def prometheus_refused_reason(*, error: str) -> str:
    """Prometheus refuses the query itself (``bad_data``)."""
    return f"Prometheus refuses the query (bad_data): {error}"


def prometheus_error_reason(*, error_type: str, error: str) -> str:
    return f"Prometheus error ({error_type}): {error}"


def prometheus_status_reason(*, status: int) -> str:
    return f"status {status} from Prometheus"


def prometheus_no_result_reason() -> str:
    return "Prometheus answered success without data"


def prometheus_wrong_shape_reason(*, result_type: str) -> str:
    return f"the query gives a {result_type}; a check needs a vector or a scalar"


def prometheus_malformed_reason(*, result_type: str) -> str:
    return f"a malformed {result_type} in Prometheus's answer"


def prometheus_no_series_reason() -> str:
    return "the query returned no series (no such metric, or nothing reports it)"


def _labels(metric: Mapping[str, str]) -> str:
    """``errs{code="500"}``, ``{code="500"}``; "" for a series without labels (a sum)."""
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(metric.items()) if k != "__name__")
    return metric.get("__name__", "") + (f"{{{inner}}}" if inner else "")


def _shown(items: Sequence[str]) -> str:
    extra = len(items) - _SERIES_SHOWN
    return ", ".join(items[:_SERIES_SHOWN]) + (f" and {extra} more" if extra > 0 else "")
