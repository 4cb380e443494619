"""What is folded from a thread's frozen events and never stored: its status
(``status.derive_status``: running, awaiting approval, queued, done, failed ...) and the one
quorum count (``quorum``: different people who approved against how many were asked for),
which both the status and policy's ``has_quorum`` use.

Part of the thread package, the floor of the core: imports nothing of ``bot`` above it.

Modules: ``quorum``, ``status``.
"""
