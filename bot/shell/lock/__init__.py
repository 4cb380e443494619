"""One deploy at a time per service and environment: a lease with a fencing token (``lease``),
its atomic Lua scripts (``scripts``), and the quiet period after Redis lost its data
(``dataloss``) during which no lock is granted; who holds a lock and what a try for one
came to (``holder``).

May import ``store`` and ``runtime``; nothing above.

Modules: ``dataloss``, ``holder``, ``lease``, ``scripts``.
"""
