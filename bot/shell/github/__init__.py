"""GitHub: a small typed REST client and its auth (token or App), the response shapes read,
its errors, and the workflow deployer: dispatch a ``workflow_dispatch``, find the run it
started among everyone's, follow it, cancel it, record a Deployment.

May import ``runtime`` and the core; nothing else of the shell.
"""
