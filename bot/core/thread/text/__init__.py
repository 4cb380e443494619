"""Who speaks in a thread and what outside text may hold: the typed ``actor``
(``channel:id``, parsed once at each edge, loaded as recorded from storage) and ``outside``
text held as data (escape sequences, bidi overrides and invisible characters cleaned once,
lengths capped per kind), used by every model that carries words from outside.

Part of the thread package, the floor of the core: imports nothing of ``bot`` above it.

Modules: ``actor``, ``outside``.
"""
