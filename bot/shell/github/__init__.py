"""GitHub: a small typed REST client and its auth (token or App), the response shapes read,
its errors, and the workflow deployer: dispatch a ``workflow_dispatch``, find the run it
started among everyone's, follow it, cancel it, record a Deployment; how long it waits at
each stage is one value (``timings``).

May import ``runtime`` and the core; nothing else of the shell.

Modules: ``auth``, ``client``, ``deployments``, ``dispatch``, ``errors``, ``models``,
``run_rules``, ``runs``, ``timings``, ``workflow_deployer``.
"""
