"""What the wiring finds wrong or worth saying about a setup before it serves: one
``finding`` (what, how bad, which commands it stops), the checks each long-running command
runs at start and ``deploybot check-config`` runs in full (``preflight``), Redis's
durability and replicas (``durability``), who can reach the bot and its Redis
(``exposure``), where release policy cannot work as configured (``release``), and the
``check-config`` command itself (``check``).

Part of the wiring: may import the core and the shell, never a channel's internals.

Modules: ``check``, ``durability``, ``exposure``, ``finding``, ``preflight``, ``release``.
"""
