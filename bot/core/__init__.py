"""The pure core: events, the thread, plans and their rules, the reducer (``next_step``),
policy and wording.

No I/O here: nothing imports Redis, an SDK, asyncio or subprocess, nor the shell, the
wiring, ``agents`` or ``channels`` (import-linter checks it in CI).
"""
