"""Where the next step is decided: ``next_step`` is the reducer (one exhaustive ``match``),
``steps`` the closed set of steps it returns, and the branches it delegates to: requests
(grammar or agent), the agent's choice, approvals, planning a plan from an intent and
lookups, what follows a deploy (verification, rollback, quarantine), and release policy's
waits (``release_steps``: a ``when ready`` wait coming due, the queue moving, a turn, cancel).

Pure. The top floor of the core: imports every other core package, none imports it.

Modules: ``aftercare``, ``approval_steps``, ``choices``, ``next_step``, ``planning``,
``release_steps``, ``requests``, ``steps``.
"""
