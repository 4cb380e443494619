"""The process itself: its long-running tasks, watched so none stops unnoticed (``tasks``),
structured JSON logs (``logs``), the counters behind /metrics (``metrics``) and the clock
every part is handed for time and ids (``clock``), the event loop long-running
commands run on (``event_loop``: uvloop) and their garbage collector's settings
(``collector``).

May import ``store``; nothing else of the shell.

Modules: ``clock``, ``collector``, ``event_loop``, ``logs``, ``metrics``, ``tasks``.
"""
