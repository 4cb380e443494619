"""What the core needs from the outside, as Protocols the shell, agents and channels
implement: an agent that chooses the next intent, a channel that delivers a message, the
inbound stream a channel publishes to, the threads a channel reads, a channel's own state.

Channels and agents reach the rest of deploybot only through these. Pure; imports only
``bot.core.thread``.
"""
