"""The process itself: its long-running tasks, watched so none stops unnoticed (``tasks``),
structured JSON logs (``logs``), the counters behind /metrics (``metrics``) and the clock
every part is handed for time and ids (``clock``).

May import ``store``; nothing else of the shell.

Modules: ``clock``, ``logs``, ``metrics``, ``tasks``.
"""
