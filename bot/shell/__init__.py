"""The imperative shell: the worker and the turn that runs the reducer, executing a deploy
(lock, write-ahead record, the deployer and its supervisor), Redis stores, timers, GitHub and
verification I/O. It imports the core, never the wiring (``bot.app``).
"""
