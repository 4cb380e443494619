"""How deeply a JSON text nests, measured without parsing it. Pure.

Python's ``json`` recurses once per level and raises ``RecursionError`` near a thousand, and
code that walks a parsed value (validation, cleaning, logging) recurses too. So a body is
measured first, with no recursion and in linear time, and refused when it nests deeper than
its channel allows; only a body within the cap is ever parsed.

Strings are skipped as whole tokens (an unterminated one runs to the end), so a ``[`` inside
a string never counts, and no input makes the scan backtrack.
"""

import re
from itertools import accumulate

from pydantic import BaseModel, ConfigDict

__all__ = ["MAX_JSON_DEPTH", "JsonTooDeep", "check_json_depth", "json_depth"]

#: Deep enough for every payload Slack, a CI system or an API client sends (Slack's
#: rich-text blocks nest about ten levels), far below where any parser recurses too far.
MAX_JSON_DEPTH = 64

_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*+"?|[\[\]{}]', re.DOTALL)
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


class JsonTooDeep(BaseModel):
    model_config = ConfigDict(frozen=True)

    depth: int
    max_depth: int

    @property
    def reason(self) -> str:
        return f"the JSON nests {self.depth} levels deep (at most {self.max_depth})"


def json_depth(raw: bytes | str) -> int:
    """The deepest nesting of arrays and objects in ``raw`` (0 for a scalar). Invalid JSON
    is measured as written: a stray closing bracket never makes the count negative."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    depth = deepest = 0
    brackets = [_STEP[t[0]] for t in _TOKEN.findall(data) if t[0] in _STEP]
    if not brackets:
        return 0
    # Fast path: no stray closer means the running sum is the depth.
    sums = list(accumulate(brackets))
    if min(sums) >= 0:
        return max(sums)
    for step in brackets:
        depth = max(0, depth + step)
        deepest = max(deepest, depth)
    return deepest


def check_json_depth(raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> JsonTooDeep | None:
    """``JsonTooDeep`` when ``raw`` nests deeper than ``max_depth``; None when it may be
    parsed."""
    depth = json_depth(raw)
    return JsonTooDeep(depth=depth, max_depth=max_depth) if depth > max_depth else None
