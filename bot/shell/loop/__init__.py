"""The outer loop: the worker reads the inbound stream, takes a thread's lease (``heartbeat``),
runs one entry (``entry``) and the turn around ``bot.core.loop.next_step`` (``turn``), and
hands replies to the outbox; durable timers and cron schedules feed the same stream.
``plan_maker`` makes a plan from an intent: what it is made against, release policy, evidence.

The top floor of the shell: may import every other shell package; none imports it.

Modules: ``entry``, ``heartbeat``, ``plan_maker``, ``scheduler``, ``timers``, ``turn``, ``worker``.
"""
