"""The process itself: its long-running tasks, watched so none stops unnoticed (``tasks``),
structured JSON logs (``logs``) and the counters behind /metrics (``metrics``).

May import ``store``; nothing else of the shell.
"""
