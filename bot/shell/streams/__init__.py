"""What comes in and what goes out, durably: the inbound stream every channel publishes to
(durable before anyone is told "ok"), the outbox that delivers recorded messages with retries,
and inputs set aside or refused (kept for the audit, counted for /metrics).

May import ``store`` and ``runtime``; nothing above.
"""
