"""Where the worker's time goes: its cProfile stats grouped by package.

``summary`` reads the stats file ``bench/_worker.py --profile`` wrote and prints (1) own time
(``tottime``) summed by group, which adds up to the profiled time without double counting,
with the event loop's wait in ``epoll`` (``idle``) set apart, and (2) the top functions by
cumulative time, each with its group. A group is our module's package (``bot.shell.store``,
``bot.core.thread``, ``channels.slack``), a third-party distribution (``pydantic``,
``redis``), ``asyncio``, another standard-library module, or ``C <module>`` for C functions
(``C _posixsubprocess``: fork and exec). A missing or unreadable file prints why, nothing else.
"""

import pstats
import re
from collections import Counter
from pathlib import Path

__all__ = ["group_of", "summary"]

_OURS = ("bot", "agents", "channels")


def group_of(filename: str, name: str = "") -> str:
    """The group of function ``name`` defined in ``filename`` (``~`` for built-ins); waiting
    in the event loop's ``epoll``/``select`` is ``idle``."""
    if filename == "~" or filename.startswith("<"):
        if "of 'select." in name or name.startswith("<built-in method select."):
            return "idle"
        found = re.search(r"of '([\w.]+)' objects|<built-in method ([\w.]+)>", name)
        owner = (found.group(1) or found.group(2)) if found else ""
        return f"C {owner.split('.')[0]}" if "." in owner else "C builtins"
    parts = Path(filename).parts
    if "site-packages" in parts:
        rest = parts[parts.index("site-packages") + 1 :]
        return rest[0].removesuffix(".py").split("-")[0] if rest else "site-packages"
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] in _OURS and "bench" not in parts[i:]:
            package = [p.removesuffix(".py") for p in parts[i:-1]]
            return ".".join(package[:3]) or parts[i]
    if "bench" in parts:
        return "bench"
    if "asyncio" in parts:
        return "asyncio"
    return "stdlib " + Path(filename).stem


def summary(path: Path, *, top: int = 25) -> list[str]:
    try:
        stats = pstats.Stats(str(path))
    except (OSError, TypeError, ValueError) as exc:
        return [f"worker profile {path}: unreadable ({exc})"]
    raw = stats.stats  # type: ignore[attr-defined]
    own: Counter[str] = Counter()
    rows = []
    for (filename, line, name), (_cc, calls, tottime, cumtime, _callers) in raw.items():
        group = group_of(filename, name)
        own[group] += tottime
        rows.append((cumtime, tottime, calls, group, f"{Path(filename).name}:{line} {name}"))
    idle = own.pop("idle", 0.0)
    total = sum(own.values()) or 1.0
    out = [
        f"worker profile (cProfile, {path}): {total:.2f} s busy, {idle:.2f} s idle in the "
        "event loop's epoll wait (left out below)"
    ]
    out.append("own time by group (busy):")
    out += [
        f"  {group:<28} {secs:7.2f} s {100 * secs / total:5.1f}%"
        for group, secs in own.most_common(15)
    ]
    out.append(f"top {top} functions by cumulative time:")
    rows.sort(key=lambda r: -r[0])
    out += [
        f"  {cum:7.2f} s cum {tot:6.2f} s own {calls:8d} calls  {group:<22} {where}"
        for cum, tot, calls, group, where in rows[:top]
    ]
    return out
