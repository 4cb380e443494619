"""What comes in and what goes out, durably: the inbound stream every channel publishes to
(durable before anyone is told "ok"), the outbox that delivers recorded messages with retries,
and inputs set aside or refused (kept for the audit, counted for /metrics). The channels'
ports (``bot.core.ports``) on them: ``channel_threads`` (read or start a thread) and
``channel_ports`` (every port a channel gets, built once by the wiring); the origins nobody
pushes replies to, whose outboxes a worker empties into its log (``pull``).

May import ``store`` and ``runtime``; nothing above.

Modules: ``channel_ports``, ``channel_threads``, ``inbound``, ``outbox``, ``pull``,
``refusals``, ``set_aside``.
"""
